# SPDX-License-Identifier: Apache-2.0
# issuance benchmark: figures printed in one run, label bench
add_executable(fst-bench-issue ${CMAKE_CURRENT_LIST_DIR}/fst-bench-issue.c
	${CMAKE_CURRENT_LIST_DIR}/../unit/fst-test-pki.c)
target_include_directories(fst-bench-issue PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
target_compile_definitions(fst-bench-issue PRIVATE FST_BENCH_DIR="${CMAKE_CURRENT_LIST_DIR}")
target_link_libraries(fst-bench-issue PRIVATE fststation m)
add_test(NAME fst-bench-issue COMMAND fst-bench-issue)
set_tests_properties(fst-bench-issue PROPERTIES LABELS bench ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300
	RUN_SERIAL TRUE)
if(FST_SANITIZE)
	# sanitizers slow our code and not `openssl speed`: report the figures, do not judge them
	target_compile_definitions(fst-bench-issue PRIVATE FST_BENCH_FIGURES_ONLY)
endif()
