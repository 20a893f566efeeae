# SPDX-License-Identifier: Apache-2.0
# Fuzz targets for every parser of untrusted or user input: the FSP frames
# (device side, station side, the whole driver), device key intake (CSR,
# SubjectPublicKeyInfo), profiles, batch manifests (CSV and JSON),
# known-devices.conf and the private key in an AWS answer. With -DFST_FUZZ=ON
# (clang) they are libFuzzer binaries; otherwise a plain main() runs the seed
# corpus, so the corpus is a regression test under gcc too (label fuzz).
#   CC=clang cmake -B build-fuzz -DFST_FUZZ=ON -DFST_SANITIZE=ON
#   build-fuzz/tests/fst-fuzz-fsp-sdk -max_total_time=60 NEW-DIR tests/data/fsp/corpus-sdk
# fst-fuzz-fsp-driver runs the whole station driver (fst-fsp-device.c) against
# a device whose every byte comes from the input (fst-fuzz-fsp-driver.h).
get_filename_component(FST_FUZZ_CORPUS_DIR ${CMAKE_CURRENT_LIST_DIR}/../data/fsp ABSOLUTE)

if(FST_FUZZ)
	if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
		message(FATAL_ERROR "FST_FUZZ needs clang for libFuzzer: CC=clang cmake -DFST_FUZZ=ON ...")
	endif()
	# coverage for the code under test, not only the harness
	foreach(lib fstwire fstdevsdk fstprotocols fstbase fststation)
		target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link)
	endforeach()
endif()

foreach(target station sdk driver)
	set(name fst-fuzz-fsp-${target})
	if(FST_FUZZ)
		add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c)
		target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
		target_link_options(${name} PRIVATE -fsanitize=fuzzer)
		set(args -runs=0)
	else()
		add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c ${CMAKE_CURRENT_LIST_DIR}/fst-fuzz-main.c)
		set(args)
	endif()
	target_link_libraries(${name} PRIVATE fstprotocols fstbase fstdevsdk fstwire OpenSSL::Crypto PkgConfig::GLIB)
	add_test(NAME ${name} COMMAND ${name} ${args} ${FST_FUZZ_CORPUS_DIR}/corpus-${target})
	set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endforeach()

# the engine's parsers; seed corpora in tests/data/fuzz/corpus-NAME
get_filename_component(FST_FUZZ_ENGINE_CORPUS_DIR ${CMAKE_CURRENT_LIST_DIR}/../data/fuzz ABSOLUTE)
foreach(target csr spki profile manifest known-devices aws-json)
	set(name fst-fuzz-${target})
	if(FST_FUZZ)
		add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c)
		target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
		target_link_options(${name} PRIVATE -fsanitize=fuzzer)
		set(args -runs=0)
	else()
		add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c ${CMAKE_CURRENT_LIST_DIR}/fst-fuzz-main.c)
		set(args)
	endif()
	target_link_libraries(${name} PRIVATE fststation)
	add_test(NAME ${name} COMMAND ${name} ${args} ${FST_FUZZ_ENGINE_CORPUS_DIR}/corpus-${target})
	set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 120 ENVIRONMENT "${FST_TEST_ENV}")
endforeach()

# regenerates the seed corpora from a real SDK session; run by hand
add_executable(fst-fuzz-fsp-corpus EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/fst-fuzz-fsp-corpus.c)
target_link_libraries(fst-fuzz-fsp-corpus PRIVATE fstdevsimhal fstdevsdk OpenSSL::Crypto PkgConfig::GLIB)
