/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation show ID: one device's history, its certificates (with their
 * credential slot and, once superseded, their deactivation in the cloud) and
 * events; ID is the device's uid, or the serial or AWS id of one of its
 * certificates (fst_db_search_device()) */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-db.h"
#include "fst-error.h"

FstExit
fst_cli_show(gint argc, gchar **argv)
{
	g_autofree gchar *workspace_opt = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace_opt,
	     "Workspace directory (default: $FLEETSTATION_WORKSPACE, else "
	     "$XDG_DATA_HOME/fleetstation)",
	     "DIR"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("DEVICE-ID|SERIAL|AWS-CERT-ID - show a device's certificates and "
	                         "events");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GPtrArray) deactivations = NULL;
	g_autoptr(GPtrArray) mine = g_ptr_array_new();
	g_autofree gchar *workspace = NULL;
	FstDbCertFilter filter = {0};
	gint state_width = 10;
	gint step_width = 9;
	gint outcome_width = 9;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "show", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc != 2) {
		g_printerr("fleetstation show: give one device id (see fleetstation devices), or "
		           "the serial or AWS id of one of its certificates\n");
		return FST_EXIT_USAGE;
	}
	workspace = fst_cli_workspace(workspace_opt);
	db = fst_cli_open_db(workspace, &error);
	if (db == NULL)
		return fst_cli_fail("show", json, error);
	dev = fst_db_search_device(db, argv[1], &error);
	if (dev == NULL)
		return fst_cli_fail("show", json, error);
	filter.device_uid = dev->uid;
	certs = fst_db_list_certificates(db, &filter, &error);
	if (certs == NULL)
		return fst_cli_fail("show", json, error);
	events = fst_db_list_events(db, dev->id, &error);
	if (events == NULL)
		return fst_cli_fail("show", json, error);
	/* the deactivation queue rows of this device's certificates */
	deactivations = fst_db_list_registrations(db, "deactivate", NULL, &error);
	if (deactivations == NULL)
		return fst_cli_fail("show", json, error);
	for (guint i = 0; i < deactivations->len; i++) {
		FstDbRegistration *r = g_ptr_array_index(deactivations, i);
		for (guint j = 0; j < certs->len; j++) {
			FstDbCert *c = g_ptr_array_index(certs, j);
			if (g_strcmp0(c->serial_hex, r->serial_hex) == 0)
				g_ptr_array_add(mine, r);
		}
	}

	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		fst_cli_device_to_json(b, dev);
		json_builder_set_member_name(b, "certificates");
		json_builder_begin_array(b);
		for (guint i = 0; i < certs->len; i++)
			fst_cli_cert_to_json(b, g_ptr_array_index(certs, i));
		json_builder_end_array(b);
		json_builder_set_member_name(b, "deactivations");
		json_builder_begin_array(b);
		for (guint i = 0; i < mine->len; i++) {
			FstDbRegistration *r = g_ptr_array_index(mine, i);
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "serial", r->serial_hex);
			fst_cli_json_add_string(b, "target", r->target);
			fst_cli_json_add_string(b, "state", r->state);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_set_member_name(b, "events");
		json_builder_begin_array(b);
		for (guint i = 0; i < events->len; i++) {
			FstDbEvent *e = g_ptr_array_index(events, i);
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "step", e->step);
			fst_cli_json_add_string(b, "outcome", e->outcome);
			fst_cli_json_add_string(b, "detail", e->detail);
			fst_cli_json_add_time(b, "started_at", e->started_us);
			fst_cli_json_add_time(b, "ended_at", e->ended_us);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	g_print("device    %s\nmodel     %s\nfirmware  %s\nport      %s\nstate     %s\n",
	        dev->uid,
	        dev->model,
	        dev->firmware != NULL ? dev->firmware : "-",
	        dev->port != NULL ? dev->port : "-",
	        fst_db_device_state_to_string(dev->state));
	if (dev->last_error != NULL)
		g_print("error     %s\n", dev->last_error);
	g_print("\ncertificates:\n");
	for (guint i = 0; i < certs->len; i++) {
		FstDbCert *c = g_ptr_array_index(certs, i);
		state_width = MAX(state_width, (gint)strlen(fst_cert_state_to_string(c->state)));
	}
	for (guint i = 0; i < certs->len; i++) {
		FstDbCert *c = g_ptr_array_index(certs, i);
		g_autofree gchar *issued = fst_time_iso(c->created_at);
		g_autoptr(GString) queue = g_string_new(NULL);
		for (guint j = 0; j < mine->len; j++) {
			FstDbRegistration *r = g_ptr_array_index(mine, j);
			if (g_strcmp0(r->serial_hex, c->serial_hex) == 0)
				g_string_append_printf(
				    queue, ", deactivation %s (%s)", r->state, r->target);
		}
		g_print("  %s %-*s slot %c, issued %s, %s%s%s%s\n",
		        c->serial_hex,
		        state_width,
		        fst_cert_state_to_string(c->state),
		        c->slot == 1 ? 'B' : 'A',
		        issued,
		        c->subject,
		        c->revocation_reason != NULL ? ", revoked: " : "",
		        c->revocation_reason != NULL ? c->revocation_reason : "",
		        queue->str);
	}
	if (certs->len == 0)
		g_print("  none\n");
	g_print("\nevents:\n");
	/* the columns as wide as their longest value (steps such as
	 * certificate-issued are twice as long as most) */
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *e = g_ptr_array_index(events, i);
		step_width = MAX(step_width, (gint)strlen(e->step));
		outcome_width = MAX(outcome_width, (gint)strlen(e->outcome));
	}
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *e = g_ptr_array_index(events, i);
		g_autofree gchar *when = fst_time_iso(e->started_us);
		g_print("  %s %-*s %-*s %.2f s%s%s\n",
		        when,
		        step_width,
		        e->step,
		        outcome_width,
		        e->outcome,
		        (gdouble)(e->ended_us - e->started_us) / G_USEC_PER_SEC,
		        e->detail != NULL ? " " : "",
		        e->detail != NULL ? e->detail : "");
	}
	return FST_EXIT_OK;
}
