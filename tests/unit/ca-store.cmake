# unit tests of CA management (station/fst-ca-store.c, fst-ca-crl.c)
fst_add_unit_test(fst-ca-store-test ${CMAKE_CURRENT_LIST_DIR}/fst-ca-store-test.c)
