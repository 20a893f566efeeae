# SPDX-License-Identifier: Apache-2.0
# unit tests of CA management (station/fst-ca-store.c, fst-ca-crl.c)
fst_add_unit_test(fst-ca-store-test ${CMAKE_CURRENT_LIST_DIR}/fst-ca-store-test.c)
# how the engine asks for CA secrets (station/fst-interaction.c)
fst_add_unit_test(fst-interaction-test ${CMAKE_CURRENT_LIST_DIR}/fst-interaction-test.c)
