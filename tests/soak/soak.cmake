# The soak (label soak): 2,000 simulated devices through 16 ports in one
# `provision --count` run, 1% of them with injected faults; the database, the
# devices and the audit chain must agree and the station's RSS must not grow
# (tests/soak/fst-soak-test.py). FST_SOAK_DEVICES=N runs a shorter one by hand.
add_test(NAME fst-soak-test COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/fst-soak-test.py)
set_tests_properties(fst-soak-test PROPERTIES
	LABELS soak
	SKIP_RETURN_CODE 77
	TIMEOUT 1200
	RUN_SERIAL TRUE
	ENVIRONMENT "${FST_TEST_ENV}")
