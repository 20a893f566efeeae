# SPDX-License-Identifier: Apache-2.0
# AWS IoT: the client and the registration worker against a local peer (moto,
# in the machine image's Python, not in Debian: skipped, 77, without it)
add_executable(fst-aws-iot-test ${CMAKE_CURRENT_LIST_DIR}/fst-aws-iot-test.c)
target_link_libraries(fst-aws-iot-test PRIVATE fststation)
target_compile_definitions(fst-aws-iot-test PRIVATE
	FST_AWS_PEER="${CMAKE_CURRENT_LIST_DIR}/fst-aws-peer.py")
add_test(NAME fst-aws-iot-test COMMAND fst-aws-iot-test --tap)
set_tests_properties(fst-aws-iot-test PROPERTIES LABELS "integration;moto"
	ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 1500 SKIP_RETURN_CODE 77)
add_dependencies(fst-aws-iot-test fleetstation)

# a provisioning job whose profile registers with AWS IoT, against the same peer
add_executable(fst-aws-job-test ${CMAKE_CURRENT_LIST_DIR}/fst-aws-job-test.c
	${CMAKE_CURRENT_LIST_DIR}/../unit/fst-test-pki.c)
target_include_directories(fst-aws-job-test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
target_link_libraries(fst-aws-job-test PRIVATE fststation)
target_compile_definitions(fst-aws-job-test PRIVATE
	FST_AWS_PEER="${CMAKE_CURRENT_LIST_DIR}/fst-aws-peer.py")
add_test(NAME fst-aws-job-test COMMAND fst-aws-job-test --tap)
set_tests_properties(fst-aws-job-test PROPERTIES LABELS "integration;moto"
	ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 600 SKIP_RETURN_CODE 77)
add_dependencies(fst-aws-job-test fleetstation fleetstation-devsim)

# SIGKILL at random points of runs whose certificates AWS IoT issues
# (issuer=aws), and answers of AWS lost after it made a certificate
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
	add_test(NAME fst-aws-crash-test
		COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/fst-aws-crash-test.py)
	set_tests_properties(fst-aws-crash-test PROPERTIES LABELS "integration;moto"
		ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 600 SKIP_RETURN_CODE 77)
else()
	fst_add_missing_test(fst-aws-crash-test integration "python3 is missing: apt-get install python3")
endif()
