# SPDX-License-Identifier: Apache-2.0
# key pool benchmark: a take from a ready pool against generating on the spot
add_executable(fst-bench-keypool ${CMAKE_CURRENT_LIST_DIR}/fst-bench-keypool.c)
target_link_libraries(fst-bench-keypool PRIVATE fststation)
add_test(NAME fst-bench-keypool COMMAND fst-bench-keypool)
set_tests_properties(fst-bench-keypool PROPERTIES LABELS bench ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)
