# SPDX-License-Identifier: Apache-2.0
# Fuzz target for the nrf91 dialect's AT response parser (fst-nrf91-at.c):
# libFuzzer with -DFST_FUZZ=ON (clang), else the plain main() runs the seed
# corpus tests/data/nrf91/corpus-at as a ctest test (label fuzz).
#   build-fuzz/tests/fst-fuzz-nrf91-at -max_total_time=60 NEW-DIR tests/data/nrf91/corpus-at
get_filename_component(FST_FUZZ_NRF91_CORPUS ${CMAKE_CURRENT_LIST_DIR}/../data/nrf91/corpus-at ABSOLUTE)
if(FST_FUZZ)
	add_executable(fst-fuzz-nrf91-at ${CMAKE_CURRENT_LIST_DIR}/fst-fuzz-nrf91-at.c)
	target_compile_options(fst-fuzz-nrf91-at PRIVATE -fsanitize=fuzzer)
	target_link_options(fst-fuzz-nrf91-at PRIVATE -fsanitize=fuzzer)
	set(FST_FUZZ_NRF91_ARGS -runs=0)
else()
	add_executable(fst-fuzz-nrf91-at ${CMAKE_CURRENT_LIST_DIR}/fst-fuzz-nrf91-at.c ${CMAKE_CURRENT_LIST_DIR}/fst-fuzz-main.c)
	set(FST_FUZZ_NRF91_ARGS)
endif()
target_link_libraries(fst-fuzz-nrf91-at PRIVATE fstprotocols fstbase OpenSSL::Crypto PkgConfig::GLIB)
add_test(NAME fst-fuzz-nrf91-at COMMAND fst-fuzz-nrf91-at ${FST_FUZZ_NRF91_ARGS} ${FST_FUZZ_NRF91_CORPUS})
set_tests_properties(fst-fuzz-nrf91-at PROPERTIES LABELS fuzz TIMEOUT 120)
