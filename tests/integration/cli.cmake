# SPDX-License-Identifier: Apache-2.0
# the headless CLI: init, ports, provision, queries, batch and watch from the outside
foreach(t fst-cli-ports-test fst-cli-provision-test fst-cli-batch-test fst-cli-watch-test
	fst-cli-escrow-test fst-cli-audit-test fst-cli-safety-test)
	if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
		add_test(NAME ${t} COMMAND ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
		set_tests_properties(${t} PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)
	endif()
endforeach()
foreach(t fst-cli-ports-test fst-cli-audit-test)
	if(TEST ${t})
		set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
	endif()
endforeach()

# the live display in a pseudo-terminal of 80 and 132 columns, read back through a
# terminal emulator (Debian's python3-pyte); skipped without it
add_test(NAME fst-cli-display-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-display-test.py)
set_tests_properties(fst-cli-display-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 300 SKIP_RETURN_CODE 77)

# the CLI's contract: --help, usage errors (exit 2), --json documents and event
# lines validated against station/cli/fleetstation-events.schema.json (Debian's
# python3-jsonschema; skipped without it), one meaning per short option
add_test(NAME fst-cli-contract-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-contract-test.py)
set_tests_properties(fst-cli-contract-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 300 SKIP_RETURN_CODE 77)

# the PDF report read back with pdftotext on A4 and Letter: serials whole and
# inside their column, long text shortened (poppler-utils; skipped without it)
add_test(NAME fst-cli-report-pdf-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-report-pdf-test.py)
set_tests_properties(fst-cli-report-pdf-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 300 SKIP_RETURN_CODE 77)

# exports (signed and PDF reports, a backup, a certificate) onto a FAT image
# mounted through FUSE: no O_TMPFILE, no hard links, no rename that refuses to
# replace (label fuse: skipped, said aloud, where /dev/fuse cannot be used)
add_test(NAME fst-cli-fat-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-fat-test.sh)
set_tests_properties(fst-cli-fat-test PROPERTIES LABELS "integration;fuse" ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 300 SKIP_RETURN_CODE 77)

# the issuing CA expires in the middle of a run: the line stops at the next
# board with exit 4, before anything is burned for it
add_test(NAME fst-cli-ca-expiry-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-ca-expiry-test.py)
set_tests_properties(fst-cli-ca-expiry-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 300)

# two boards with one id, in two processes with the workspace open: the
# second is refused while the first is in flight, and the device's history
# shows it
add_test(NAME fst-cli-same-id-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-same-id-test.py)
set_tests_properties(fst-cli-same-id-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 300)

# the station's disk full in the middle of a device, on a real full tmpfs
# (mounted as root, or in a user and mount namespace; skipped without either):
# the line stops, exit 5, and the database still knows every burned certificate
add_test(NAME fst-cli-disk-full-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-disk-full-test.py)
set_tests_properties(fst-cli-disk-full-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}"
	TIMEOUT 300 SKIP_RETURN_CODE 77)
