/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FST_ERROR (fst_error_quark())

/**
 * FstError:
 * @FST_ERROR_INTERNAL: a bug or an unexpected library failure
 * @FST_ERROR_INVALID_DATA: input (from a device, a file or the user) is malformed
 * @FST_ERROR_NOT_FOUND: a named thing (port, profile, device, object) does not exist
 * @FST_ERROR_TIMED_OUT: a device did not answer in time
 * @FST_ERROR_DISCONNECTED: the port or device went away
 * @FST_ERROR_STORAGE_FULL: the device has no room for what was asked
 * @FST_ERROR_VERIFY_FAILED: a signature, hash or read-back comparison did not match
 * @FST_ERROR_PERMISSION_DENIED: the OS or the device refused access
 * @FST_ERROR_NOT_SUPPORTED: the device or profile cannot do what was asked
 * @FST_ERROR_BUSY: the port or device is in use
 * @FST_ERROR_PROTOCOL: the device answered outside the protocol
 * @FST_ERROR_DATABASE: the station database failed
 * @FST_ERROR_CONFIG: a profile, CA or workspace setting is wrong
 * @FST_ERROR_CA_UNAVAILABLE: the issuing CA cannot sign (locked, expired, missing key)
 * @FST_ERROR_CANCELLED: the operator or a signal stopped the operation
 * @FST_ERROR_KEY_REUSED: a device's public key is already certified for another device
 *
 * The closed set of error codes of the one error domain, %FST_ERROR. Foreign
 * errors (OpenSSL, libserialport, SQLite, GIO) are converted to these at the
 * boundary where they are met. The CLI maps them to its exit codes, so the
 * numeric values are stable: append only.
 */
typedef enum {
	FST_ERROR_INTERNAL,
	FST_ERROR_INVALID_DATA,
	FST_ERROR_NOT_FOUND,
	FST_ERROR_TIMED_OUT,
	FST_ERROR_DISCONNECTED,
	FST_ERROR_STORAGE_FULL,
	FST_ERROR_VERIFY_FAILED,
	FST_ERROR_PERMISSION_DENIED,
	FST_ERROR_NOT_SUPPORTED,
	FST_ERROR_BUSY,
	FST_ERROR_PROTOCOL,
	FST_ERROR_DATABASE,
	FST_ERROR_CONFIG,
	FST_ERROR_CA_UNAVAILABLE,
	FST_ERROR_CANCELLED,
	FST_ERROR_KEY_REUSED,
	FST_ERROR_LAST
} FstError;

GQuark fst_error_quark(void);
const gchar *fst_error_code_to_string(FstError code);

void fst_error_set_openssl(GError **error, FstError code, const gchar *format, ...)
    G_GNUC_PRINTF(3, 4);
gboolean fst_error_convert_gio(GError **error);

G_END_DECLS
