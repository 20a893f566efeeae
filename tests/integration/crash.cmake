# SPDX-License-Identifier: Apache-2.0
# crash test of the station's records: SIGKILL at random points of demo runs
# and of A/B rework runs
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
	add_test(NAME fst-crash-test
		COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/fst-crash-test.py)
	set_tests_properties(fst-crash-test PROPERTIES LABELS integration
		ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 420)
else()
	fst_add_missing_test(fst-crash-test integration "python3 is missing: apt-get install python3")
endif()
