# the station database: real SQLite files in a temporary folder per test
fst_add_unit_test(fst-db-test ${CMAKE_CURRENT_LIST_DIR}/fst-db-test.c)
target_compile_definitions(fst-db-test PRIVATE
	FST_DB_TEST_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}/../data/db")
