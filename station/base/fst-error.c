/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstError"

#include "fst-error.h"

#include <gio/gio.h>
#include <openssl/err.h>

G_DEFINE_QUARK(fst - error - quark, fst_error)

/**
 * fst_error_code_to_string:
 * @code: an #FstError
 *
 * Returns: (transfer none): a stable lower-case name for @code, used in logs,
 * the database and `--json` output
 */
const gchar *
fst_error_code_to_string(FstError code)
{
	switch (code) {
	case FST_ERROR_INTERNAL:
		return "internal";
	case FST_ERROR_INVALID_DATA:
		return "invalid-data";
	case FST_ERROR_NOT_FOUND:
		return "not-found";
	case FST_ERROR_TIMED_OUT:
		return "timed-out";
	case FST_ERROR_DISCONNECTED:
		return "disconnected";
	case FST_ERROR_STORAGE_FULL:
		return "storage-full";
	case FST_ERROR_VERIFY_FAILED:
		return "verify-failed";
	case FST_ERROR_PERMISSION_DENIED:
		return "permission-denied";
	case FST_ERROR_NOT_SUPPORTED:
		return "not-supported";
	case FST_ERROR_BUSY:
		return "busy";
	case FST_ERROR_PROTOCOL:
		return "protocol";
	case FST_ERROR_DATABASE:
		return "database";
	case FST_ERROR_CONFIG:
		return "config";
	case FST_ERROR_CA_UNAVAILABLE:
		return "ca-unavailable";
	case FST_ERROR_CANCELLED:
		return "cancelled";
	case FST_ERROR_KEY_REUSED:
		return "key-reused";
	case FST_ERROR_LAST:
	default:
		break;
	}
	return "unknown";
}

/**
 * fst_error_set_openssl:
 * @error: (nullable): return location
 * @code: the #FstError code to use
 * @format: printf-style context, e.g. "signing certificate"
 *
 * Sets @error from the current thread's OpenSSL error queue, which is drained:
 * "@format: <first openssl reason>[; <more>]". Call it right after the OpenSSL
 * function that failed, so that stale errors from elsewhere are not reported.
 */
void
fst_error_set_openssl(GError **error, FstError code, const gchar *format, ...)
{
	va_list args;
	unsigned long err;
	g_autofree gchar *context = NULL;
	g_autoptr(GString) reasons = g_string_new(NULL);

	va_start(args, format);
	context = g_strdup_vprintf(format, args);
	va_end(args);

	while ((err = ERR_get_error()) != 0) {
		gchar buf[256];
		ERR_error_string_n(err, buf, sizeof(buf));
		if (reasons->len > 0)
			g_string_append(reasons, "; ");
		g_string_append(reasons, buf);
	}
	if (reasons->len == 0)
		g_string_append(reasons, "no detail from OpenSSL");
	g_set_error(error, FST_ERROR, code, "%s: %s", context, reasons->str);
}

/**
 * fst_error_convert_gio:
 * @error: (nullable): an error that may be in the GIO domain
 *
 * Converts a %G_IO_ERROR or %G_FILE_ERROR in place to the closest %FST_ERROR
 * code, keeping its message.
 *
 * Returns: %TRUE if @error was converted or already in %FST_ERROR
 */
gboolean
fst_error_convert_gio(GError **error)
{
	if (error == NULL || *error == NULL)
		return FALSE;
	if ((*error)->domain == FST_ERROR)
		return TRUE;
	if ((*error)->domain == G_IO_ERROR) {
		switch ((*error)->code) {
		case G_IO_ERROR_NOT_FOUND:
			(*error)->code = FST_ERROR_NOT_FOUND;
			break;
		case G_IO_ERROR_TIMED_OUT:
			(*error)->code = FST_ERROR_TIMED_OUT;
			break;
		case G_IO_ERROR_PERMISSION_DENIED:
			(*error)->code = FST_ERROR_PERMISSION_DENIED;
			break;
		case G_IO_ERROR_CANCELLED:
			(*error)->code = FST_ERROR_CANCELLED;
			break;
		case G_IO_ERROR_BUSY:
			(*error)->code = FST_ERROR_BUSY;
			break;
		case G_IO_ERROR_INVALID_DATA:
			(*error)->code = FST_ERROR_INVALID_DATA;
			break;
		case G_IO_ERROR_NOT_SUPPORTED:
			(*error)->code = FST_ERROR_NOT_SUPPORTED;
			break;
		case G_IO_ERROR_BROKEN_PIPE: /* also G_IO_ERROR_CONNECTION_CLOSED */
			(*error)->code = FST_ERROR_DISCONNECTED;
			break;
		case G_IO_ERROR_NO_SPACE:
			(*error)->code = FST_ERROR_STORAGE_FULL;
			break;
		default:
			(*error)->code = FST_ERROR_INTERNAL;
			break;
		}
		(*error)->domain = FST_ERROR;
		return TRUE;
	}
	if ((*error)->domain == G_FILE_ERROR) {
		switch ((*error)->code) {
		case G_FILE_ERROR_NOENT:
			(*error)->code = FST_ERROR_NOT_FOUND;
			break;
		case G_FILE_ERROR_ACCES:
		case G_FILE_ERROR_PERM:
			(*error)->code = FST_ERROR_PERMISSION_DENIED;
			break;
		case G_FILE_ERROR_NOSPC:
			(*error)->code = FST_ERROR_STORAGE_FULL;
			break;
		default:
			(*error)->code = FST_ERROR_INTERNAL;
			break;
		}
		(*error)->domain = FST_ERROR;
		return TRUE;
	}
	return FALSE;
}
