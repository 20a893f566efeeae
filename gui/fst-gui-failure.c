/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device's failure in the technician's words: the engine's error code (and,
 * where one code covers several cases, its message or the step it failed
 * at) mapped to what went wrong and what to do next at the line. The
 * engine's own message stays visible under it for the supervisor.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-gui-failure.h"

#include <string.h>

#include <glib/gi18n.h>

#include "fst-error.h"

/* a profile that does not fit the board is a configuration error to the engine */
static gboolean
fst_gui_failure_is_wrong_model(const GError *error)
{
	return error->message != NULL && strstr(error->message, "does not match profile") != NULL;
}

/* the issue step talks to no board: a lost connection, a refusal or a busy
 * service there is AWS IoT's, which issues the certificates of an
 * `issuer=aws` profile. AWS IoT refusing the station, or out of reach after
 * every retry, fails as the issuer (CA_UNAVAILABLE, which stops the line),
 * as the station's own CA does; its message names AWS IoT */
static gboolean
fst_gui_failure_describe_issuer(const GError *error, FstGuiFailure *failure)
{
	switch ((FstError)error->code) {
	case FST_ERROR_CA_UNAVAILABLE:
		if (error->message == NULL || strstr(error->message, "AWS IoT") == NULL)
			return FALSE;
		failure->reason = _("AWS IoT issues no certificate now");
		failure->action = _("The board is not at fault and the line stopped: check the "
		                    "station's network, or call the supervisor");
		return TRUE;
	case FST_ERROR_TIMED_OUT:
	case FST_ERROR_DISCONNECTED:
	case FST_ERROR_PROTOCOL:
		failure->reason = _("The station cannot reach AWS IoT");
		failure->action =
		    _("The board is not at fault: check the station's network, then press Retry");
		return TRUE;
	case FST_ERROR_BUSY:
		failure->reason = _("AWS IoT is busy");
		failure->action =
		    _("Wait a moment and press Retry; if it keeps happening, call the supervisor");
		return TRUE;
	case FST_ERROR_PERMISSION_DENIED:
	case FST_ERROR_NOT_FOUND:
		failure->reason = _("AWS IoT refused the station");
		failure->action = _("The board is not at fault: call the supervisor");
		return TRUE;
	default:
		return FALSE;
	}
}

/**
 * fst_gui_failure_describe:
 * @error: why a device failed (an %FST_ERROR, or any other domain)
 * @step: the step it failed at
 * @failure: (out caller-allocates): the reason and the action, translated
 *
 * Fills @failure with static, translated strings.
 */
void
fst_gui_failure_describe(const GError *error, FstStep step, FstGuiFailure *failure)
{
	failure->reason = _("Unexpected error");
	failure->action = _("Press Retry; if it fails again, call the supervisor");
	if (error == NULL || error->domain != FST_ERROR)
		return;
	if (step == FST_STEP_ISSUE && fst_gui_failure_describe_issuer(error, failure))
		return;

	switch ((FstError)error->code) {
	case FST_ERROR_STORAGE_FULL:
		failure->reason = _("Device storage full");
		failure->action =
		    _("This model needs a profile that stores less (e.g. small-storage): "
		      "set the board aside and call the supervisor");
		break;
	case FST_ERROR_NOT_SUPPORTED:
		failure->reason = _("The board cannot do what the profile asks");
		failure->action = _("Set the board aside and call the supervisor");
		break;
	case FST_ERROR_TIMED_OUT:
	case FST_ERROR_DISCONNECTED:
	case FST_ERROR_PROTOCOL:
		failure->reason = _("The board stopped answering");
		failure->action = _("Re-seat the board and press Retry");
		break;
	case FST_ERROR_NOT_FOUND:
		failure->reason = _("No board on this port");
		failure->action = _("Seat a board in the socket and press Retry");
		break;
	case FST_ERROR_BUSY:
		/* once the board has given its id, the id is what is taken: by a
		 * board on another port of this station, or by another station */
		if (step == FST_STEP_IDENTIFY || step == FST_STEP_PLAN) {
			failure->reason = _("Another board has the same id");
			failure->action = _("Set this board aside and have its id checked");
			break;
		}
		failure->reason = _("The port is in use by another program");
		failure->action = _("Close the other program, then press Retry");
		break;
	case FST_ERROR_VERIFY_FAILED:
		failure->reason = _("The board did not keep what was written");
		failure->action =
		    _("Press Retry; if it fails again, set the board aside as faulty");
		break;
	case FST_ERROR_INVALID_DATA:
		failure->reason = _("The board sent something the station cannot use");
		failure->action =
		    _("Re-seat the board and press Retry; if it fails again, set it aside");
		break;
	case FST_ERROR_PERMISSION_DENIED:
		failure->reason = _("The station may not open this port or board");
		failure->action = _("Call the supervisor");
		break;
	case FST_ERROR_CA_UNAVAILABLE:
		failure->reason = _("The certificate authority cannot sign");
		failure->action = _("Call the supervisor to unlock or renew the CA");
		break;
	case FST_ERROR_CONFIG:
		if (fst_gui_failure_is_wrong_model(error)) {
			failure->reason = _("Wrong model for this profile");
			failure->action = _("Set the board aside for the line of its model");
			break;
		}
		failure->reason = _("The profile or the station settings are wrong");
		failure->action = _("Call the supervisor");
		break;
	case FST_ERROR_DATABASE:
		failure->reason = _("The station could not record the device");
		failure->action = _("Stop the line and call the supervisor");
		break;
	case FST_ERROR_KEY_REUSED:
		failure->reason = _("Another board has the same key");
		failure->action = _("Set this board aside: its key generator is faulty");
		break;
	case FST_ERROR_CANCELLED:
		failure->reason = _("Stopped before the end");
		failure->action = _("Press Retry to provision it again");
		break;
	case FST_ERROR_INTERNAL:
	case FST_ERROR_LAST:
	default:
		break;
	}
}

/**
 * fst_gui_failure_cause:
 * @error: why a device failed
 * @step: the step it failed at
 *
 * Returns: the translated reason, used to group the shift's failures
 */
const gchar *
fst_gui_failure_cause(const GError *error, FstStep step)
{
	FstGuiFailure failure;
	fst_gui_failure_describe(error, step, &failure);
	return failure.reason;
}

/* failure causes, most devices first, then by name */
static gint
fst_gui_failure_cause_cmp(gconstpointer a, gconstpointer b, gpointer user_data)
{
	GHashTable *causes = user_data;
	guint na = GPOINTER_TO_UINT(g_hash_table_lookup(causes, a));
	guint nb = GPOINTER_TO_UINT(g_hash_table_lookup(causes, b));

	if (na != nb)
		return na > nb ? -1 : 1;
	return g_utf8_collate(a, b);
}

/**
 * fst_gui_failure_causes_text:
 * @causes: (element-type utf8 guint): devices failed so far by
 *   fst_gui_failure_cause()
 *
 * The line of the shift's counters that counts failures by cause: the
 * commonest first (ties by name), so that it does not reorder itself at
 * random as it counts.
 *
 * Returns: (transfer full) (nullable): the text, or %NULL when nothing failed
 */
gchar *
fst_gui_failure_causes_text(GHashTable *causes)
{
	g_autoptr(GString) text = NULL;
	g_autoptr(GList) keys = NULL;

	if (g_hash_table_size(causes) == 0)
		return NULL;
	text = g_string_new(_("Failures by cause:"));
	keys =
	    g_list_sort_with_data(g_hash_table_get_keys(causes), fst_gui_failure_cause_cmp, causes);
	for (GList *l = keys; l != NULL; l = l->next) {
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(causes, l->data));
		g_string_append_printf(text, "  %s × %u", (const gchar *)l->data, n);
	}
	return g_string_free(g_steal_pointer(&text), FALSE);
}
