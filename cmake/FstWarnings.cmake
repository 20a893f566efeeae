# SPDX-License-Identifier: Apache-2.0
# One place for warning, hardening and sanitizer flags (curl's PickyWarnings.cmake model).
set(FST_WARNING_FLAGS
	-Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2
	-Wcast-qual -Wwrite-strings -Wimplicit-fallthrough -Wswitch-default
	-Wno-missing-field-initializers -Wno-unused-parameter)
if(FST_WERROR)
	list(APPEND FST_WARNING_FLAGS -Werror)
endif()
add_compile_options(${FST_WARNING_FLAGS})

# hardening: stack protector, fortified libc calls, position-independent
# executables, read-only relocations bound at start
include(CheckPIESupported)
check_pie_supported()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
add_compile_options(-fstack-protector-strong)
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT FST_SANITIZE)
	add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
add_link_options(-Wl,-z,relro,-z,now)

if(FST_SANITIZE)
	add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
	add_link_options(-fsanitize=address,undefined)
endif()

# GLib API we may use: Debian 12 ships 2.74
add_compile_definitions(GLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74
	GLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74
	OPENSSL_API_COMPAT=30000)
