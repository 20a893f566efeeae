# SPDX-License-Identifier: Apache-2.0
# station database benchmarks: logging cost, size per device, CSV export;
# FST_BENCH_FULL=1 for the 1,000,000-device sizes
add_executable(fst-bench-db ${CMAKE_CURRENT_LIST_DIR}/fst-bench-db.c
	${CMAKE_CURRENT_LIST_DIR}/fst-bench-cert.c)
target_link_libraries(fst-bench-db PRIVATE fststation)
add_test(NAME fst-bench-db COMMAND fst-bench-db)
set_tests_properties(fst-bench-db PROPERTIES LABELS bench ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 3600)
