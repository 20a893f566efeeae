# SPDX-License-Identifier: Apache-2.0
# gang benchmark: 1 vs 16 devices at 921600 baud, 64 devices under 64 MB;
# FST_BENCH_LONG=1 in the environment adds a 128-device run
add_executable(fst-bench-gang ${CMAKE_CURRENT_LIST_DIR}/fst-bench-gang.c)
target_link_libraries(fst-bench-gang PRIVATE fststation)
add_dependencies(fst-bench-gang fleetstation-devsim)
add_test(NAME fst-bench-gang COMMAND fst-bench-gang)
set_tests_properties(fst-bench-gang PROPERTIES LABELS bench ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)
