# SPDX-License-Identifier: Apache-2.0
# The soak (label soak): 2,000 simulated devices through 16 ports in one
# `provision --count` run, 1% of them with injected faults, the certificates
# registered with a local AWS IoT peer as the line runs; the database, the
# devices, the audit chain and the peer must agree and the station's RSS must
# not grow (tests/soak/fst-soak-test.py). Without moto, the peer (not in
# Debian), it checks the rest and skips (77) naming the part left out: label
# moto. FST_SOAK_DEVICES=N runs a shorter one by hand.
add_test(NAME fst-soak-test COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/fst-soak-test.py)
set_tests_properties(fst-soak-test PROPERTIES
	LABELS "soak;moto"
	SKIP_RETURN_CODE 77
	TIMEOUT 1200
	RUN_SERIAL TRUE
	ENVIRONMENT "${FST_TEST_ENV}")
