# SPDX-License-Identifier: Apache-2.0
# central registry benchmarks against a PostgreSQL server started by the
# benchmark: 8 stations x 10,000 devices synced at once (time, records/s,
# bytes per device), the line's rate without and with a sync beside it;
# FST_BENCH_STATIONS, FST_BENCH_DEVICES to resize
add_executable(fst-bench-central ${CMAKE_CURRENT_LIST_DIR}/fst-bench-central.c
	${CMAKE_CURRENT_LIST_DIR}/fst-bench-cert.c)
target_link_libraries(fst-bench-central PRIVATE fststation)
add_test(NAME fst-bench-central COMMAND fst-bench-central)
set_tests_properties(fst-bench-central PROPERTIES LABELS bench
	ENVIRONMENT "${FST_TEST_ENV};FST_CENTRAL_PG=${PROJECT_SOURCE_DIR}/tests/integration/fst-central-pg.sh"
	TIMEOUT 3600 SKIP_RETURN_CODE 77)
