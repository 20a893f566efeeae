# SPDX-License-Identifier: Apache-2.0
# the central registry (db/central.md) against a real PostgreSQL server that
# each test starts on a free loopback port (fst-central-pg.sh); skipped (77)
# without the server binaries
foreach(t fst-central-test)
	if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
		add_test(NAME ${t} COMMAND ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
		set_tests_properties(${t} PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}"
			TIMEOUT 600 SKIP_RETURN_CODE 77)
	endif()
endforeach()
# four stations into one server: stopped and restarted mid-run, a sync
# SIGKILLed between batches, marks wiped and everything shipped again
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
	add_test(NAME fst-central-stations-test
		COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/fst-central-stations-test.py)
	set_tests_properties(fst-central-stations-test PROPERTIES LABELS integration
		ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()

# the database side: connection setting, schema ladder, constraints,
# reservations, the registration queue with several registrars
add_executable(fst-central-db-test ${CMAKE_CURRENT_LIST_DIR}/fst-central-db-test.c
	${CMAKE_CURRENT_LIST_DIR}/../unit/fst-test-pki.c)
target_include_directories(fst-central-db-test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
target_link_libraries(fst-central-db-test PRIVATE fststation)
add_test(NAME fst-central-db-test COMMAND fst-central-db-test --tap)
set_tests_properties(fst-central-db-test PROPERTIES LABELS integration
	ENVIRONMENT "${FST_TEST_ENV};FST_CENTRAL_PG=${CMAKE_CURRENT_LIST_DIR}/fst-central-pg.sh"
	TIMEOUT 300 SKIP_RETURN_CODE 77)

# the central registration queue drained into the local AWS peer (moto, not
# in Debian: skipped, 77, without it) by several registrars at once, one
# SIGKILLed mid-push; a take-over deactivates the old certificate there
if(Python3_FOUND)
	add_test(NAME fst-central-register-test
		COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/fst-central-register-test.py)
	set_tests_properties(fst-central-register-test PROPERTIES LABELS "integration;moto"
		ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()
