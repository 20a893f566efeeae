# SPDX-License-Identifier: Apache-2.0
# the shared OpenSSL helpers: hex, PEM, time, digest choice, key generation
fst_add_unit_test(fst-crypto-test ${CMAKE_CURRENT_LIST_DIR}/fst-crypto-test.c)
