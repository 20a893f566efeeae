# FSP wire efficiency: one ECC device at 921600 and 115200 baud must
# be provisioned in at most 1.15 x the wire time plus the device's compute
# time; prints the three figures. FST_BENCH_RUNS=N repeats each rate.
add_executable(fst-bench-wire ${CMAKE_CURRENT_LIST_DIR}/fst-bench-wire.c)
target_link_libraries(fst-bench-wire PRIVATE fststation)
add_dependencies(fst-bench-wire fleetstation-devsim)
add_test(NAME fst-bench-wire COMMAND fst-bench-wire --tap)
set_tests_properties(fst-bench-wire PROPERTIES LABELS bench ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 120 RUN_SERIAL TRUE)
