# SPDX-License-Identifier: Apache-2.0
# AWS IoT registration against the local peer (moto; skipped, 77, without it):
# registrations a second, CPU per registration, the line's rate with the worker
add_executable(fst-bench-aws ${CMAKE_CURRENT_LIST_DIR}/fst-bench-aws.c
	${CMAKE_CURRENT_LIST_DIR}/../unit/fst-test-pki.c)
target_include_directories(fst-bench-aws PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
target_link_libraries(fst-bench-aws PRIVATE fststation)
target_compile_definitions(fst-bench-aws PRIVATE
	FST_AWS_PEER="${CMAKE_CURRENT_LIST_DIR}/../integration/fst-aws-peer.py")
add_test(NAME fst-bench-aws COMMAND fst-bench-aws)
set_tests_properties(fst-bench-aws PROPERTIES LABELS "bench;moto" ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 900 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
