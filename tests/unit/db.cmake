# SPDX-License-Identifier: Apache-2.0
# the station database: real SQLite files in a temporary folder per test
fst_add_unit_test(fst-db-test ${CMAKE_CURRENT_LIST_DIR}/fst-db-test.c)
target_compile_definitions(fst-db-test PRIVATE
	FST_DB_TEST_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}/../data/db")

# reports: CSV quoting, JSON, PDF pages and signatures, from a real database
fst_add_unit_test(fst-report-test ${CMAKE_CURRENT_LIST_DIR}/fst-report-test.c)
# FcFini() at exit, so that a leak checker sees only our allocations
pkg_check_modules(FONTCONFIG REQUIRED IMPORTED_TARGET fontconfig)
target_link_libraries(fst-report-test PRIVATE PkgConfig::FONTCONFIG)
