# the central registry (db/central.md) against a real PostgreSQL server that
# each test starts on a free loopback port (fst-central-pg.sh); skipped (77)
# without the server binaries
foreach(t fst-central-test fst-central-stations-test)
	if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
		add_test(NAME ${t} COMMAND ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
		set_tests_properties(${t} PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}"
			TIMEOUT 600 SKIP_RETURN_CODE 77)
	endif()
endforeach()
