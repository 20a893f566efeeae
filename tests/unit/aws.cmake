# SPDX-License-Identifier: Apache-2.0
# AWS: the SigV4 signer (against botocore, Debian python3-botocore; skipped
# without it), credentials as the AWS CLI finds them
fst_add_unit_test(fst-aws-sigv4-test ${CMAKE_CURRENT_LIST_DIR}/fst-aws-sigv4-test.c)
target_compile_definitions(fst-aws-sigv4-test PRIVATE
	FST_SIGV4_REFERENCE="${CMAKE_CURRENT_LIST_DIR}/fst-aws-sigv4-reference.py")
set_tests_properties(fst-aws-sigv4-test PROPERTIES SKIP_RETURN_CODE 77)

fst_add_unit_test(fst-aws-credentials-test ${CMAKE_CURRENT_LIST_DIR}/fst-aws-credentials-test.c)

# bulk registration files: export of a lot, import of the task's reports
fst_add_unit_test(fst-aws-bulk-test ${CMAKE_CURRENT_LIST_DIR}/fst-aws-bulk-test.c)

# the private key of a CreateKeysAndCertificate answer, taken out before parsing
fst_add_unit_test(fst-aws-json-test ${CMAKE_CURRENT_LIST_DIR}/fst-aws-json-test.c)
