# SPDX-License-Identifier: Apache-2.0
# FSP wire efficiency: one ECC device at 921600 and 115200 baud must
# be provisioned in at most 1.15 x the wire time plus the device's compute
# time (the best of 5 runs); prints the three figures. FST_BENCH_RUNS=N repeats each rate.
# On a line with 1e-4 bit errors per byte (NAK answers corrupt frames) the
# same devices must take at most 1.5 x their noise-free time; prints both,
# and the time without NAK. FST_BENCH_NOISY_RUNS=N devices each (default 5).
add_executable(fst-bench-wire ${CMAKE_CURRENT_LIST_DIR}/fst-bench-wire.c)
target_link_libraries(fst-bench-wire PRIVATE fststation)
add_dependencies(fst-bench-wire fleetstation-devsim)
add_test(NAME fst-bench-wire COMMAND fst-bench-wire --tap)
set_tests_properties(fst-bench-wire PROPERTIES LABELS bench ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 240 RUN_SERIAL TRUE)
