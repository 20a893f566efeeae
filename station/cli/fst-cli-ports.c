/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation ports: serial ports and known USB devices (fst-ports.c) */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-error.h"
#include "fst-ports.h"

static void
fst_cli_ports_add_json(JsonBuilder *b, const FstPortInfo *p)
{
	json_builder_begin_object(b);
	fst_cli_json_add_string(b, "name", p->name);
	fst_cli_json_add_string(b, "kind", p->kind == FST_PORT_KIND_SERIAL ? "serial" : "usb");
	fst_cli_json_add_string(b, "transport", p->transport);
	json_builder_set_member_name(b, "vid");
	if (p->vid >= 0)
		json_builder_add_int_value(b, p->vid);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "pid");
	if (p->pid >= 0)
		json_builder_add_int_value(b, p->pid);
	else
		json_builder_add_null_value(b);
	fst_cli_json_add_string(b, "serial", p->serial);
	fst_cli_json_add_string(b, "description", p->description);
	fst_cli_json_add_string(b, "dialect", p->dialect);
	json_builder_set_member_name(b, "busy");
	json_builder_add_boolean_value(b, p->busy);
	fst_cli_json_add_string(b, "busy_reason", p->busy_reason);
	json_builder_set_member_name(b, "accessible");
	json_builder_add_boolean_value(b, p->denied == NULL);
	fst_cli_json_add_string(b, "access_error", p->denied);
	fst_cli_json_add_string(b, "usb_path", p->usb_path);
	fst_cli_json_add_string(b, "lane", p->lane);
	json_builder_end_object(b);
}

/* busy, denied (this user may not open it: see access_error), free */
static const gchar *
fst_cli_ports_state(const FstPortInfo *p)
{
	if (p->busy)
		return "busy";
	if (p->denied != NULL)
		return "denied";
	return "free";
}

static void
fst_cli_ports_add_row(FstCliTable *table, const FstPortInfo *p)
{
	g_autofree gchar *usb_id =
	    p->vid >= 0 ? g_strdup_printf("%04x:%04x", (guint)p->vid, (guint)p->pid) : NULL;
	fst_cli_table_add_row(table,
	                      p->name,
	                      p->transport,
	                      usb_id,
	                      p->serial,
	                      p->dialect,
	                      fst_cli_ports_state(p),
	                      p->lane,
	                      p->description);
}

FstExit
fst_cli_ports(gint argc, gchar **argv)
{
	gboolean json = FALSE;
	gboolean known_only = FALSE;
	g_autofree gchar *output = NULL;
	FstCliOutput mode;
	g_autofree gchar *table = NULL;
	g_autofree gchar *workspace_opt = NULL;
	g_autofree gchar *workspace = NULL;
	const GOptionEntry entries[] = {
	    {"workspace",
	     'w',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &workspace_opt,
	     "Workspace whose [lanes] name the jig's sockets",
	     "DIR"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL},
	    FST_CLI_OUTPUT_ENTRY(output),
	    {"known",
	     'k',
	     0,
	     G_OPTION_ARG_NONE,
	     &known_only,
	     "Only ports with a known dialect",
	     NULL},
	    {"table",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &table,
	     "Known-devices table (default: templates/ports/known-devices.conf)",
	     "FILE"},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- list serial ports and known USB devices");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstKnownDevices) known = NULL;
	g_autoptr(GPtrArray) serial = NULL;
	g_autoptr(GPtrArray) usb = NULL;
	g_autoptr(FstLanes) lanes = NULL;
	g_autoptr(FstCliTable) out = NULL;

	g_option_context_set_summary(
	    context,
	    "Lists serial ports (libserialport: name, USB VID:PID, serial number, description)\n"
	    "and USB devices of the vendors in the known-devices table (libusb), the dialect\n"
	    "the station would speak to each, and whether another program holds the port.\n"
	    "Busy means a live UUCP lock file, a lock (another fleetstation, picocom), or\n"
	    "another process holding the port open (of those this user may see; all of\n"
	    "them for root), with the program and its process id. No port is opened to\n"
	    "find that out, so no board is reset by its DTR line. Denied means that this\n"
	    "user may not open it (the group or udev rule it lacks follows).\n"
	    "LANE is the jig socket the workspace binds to the port's USB port path or\n"
	    "adapter serial number ([lanes] in station.conf).");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "ports", &argc, &argv))
		return FST_EXIT_USAGE;
	if (!fst_cli_output_resolve("ports", output, &json, &mode))
		return FST_EXIT_USAGE;
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf("unexpected argument %s", argv[1]);
		return fst_cli_usage_error("ports", json, msg);
	}
	known = table != NULL ? fst_known_devices_load(table, &error)
	                      : fst_known_devices_load_default(&error);
	if (known == NULL)
		return fst_cli_fail("ports", json, error);
	serial = fst_ports_list_serial(known, &error);
	if (serial == NULL)
		return fst_cli_fail("ports", json, error);
	usb = fst_ports_list_usb(known, &error);
	if (usb == NULL)
		return fst_cli_fail("ports", json, error);
	/* one look at every process's open files for both lists */
	{
		g_autoptr(GPtrArray) all = g_ptr_array_new();
		g_ptr_array_extend(all, serial, NULL, NULL);
		g_ptr_array_extend(all, usb, NULL, NULL);
		fst_ports_check_busy(all);
	}
	workspace = fst_cli_workspace(workspace_opt);
	lanes = fst_lanes_load(workspace, &error);
	if (lanes == NULL)
		return fst_cli_fail("ports", json, error);
	fst_lanes_apply(lanes, serial);
	fst_lanes_apply(lanes, usb);

	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "serial");
		json_builder_begin_array(b);
		for (guint i = 0; i < serial->len; i++) {
			FstPortInfo *p = g_ptr_array_index(serial, i);
			if (!known_only || p->dialect != NULL)
				fst_cli_ports_add_json(b, p);
		}
		json_builder_end_array(b);
		json_builder_set_member_name(b, "usb");
		json_builder_begin_array(b);
		for (guint i = 0; i < usb->len; i++)
			fst_cli_ports_add_json(b, g_ptr_array_index(usb, i));
		json_builder_end_array(b);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	out = fst_cli_table_new(mode);
	fst_cli_table_add_column(out, "PORT", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(out, "TRANSPORT", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(out, "USB ID", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(out, "SERIAL", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(out, "DIALECT", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(out, "STATE", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(out, "LANE", FST_CLI_COLUMN_NONE);
	fst_cli_table_add_column(out, "DESCRIPTION", FST_CLI_COLUMN_TRUNC);
	for (guint i = 0; i < serial->len; i++) {
		FstPortInfo *p = g_ptr_array_index(serial, i);
		if (!known_only || p->dialect != NULL)
			fst_cli_ports_add_row(out, p);
	}
	for (guint i = 0; i < usb->len; i++)
		fst_cli_ports_add_row(out, g_ptr_array_index(usb, i));
	fst_cli_table_print(out);
	if (mode == FST_CLI_OUTPUT_PLAIN)
		return FST_EXIT_OK;
	/* what a denied port lacks, once per port */
	for (guint k = 0; k < 2; k++) {
		GPtrArray *list = k == 0 ? serial : usb;
		for (guint i = 0; i < list->len; i++) {
			FstPortInfo *p = g_ptr_array_index(list, i);
			if (p->denied != NULL && (!known_only || p->dialect != NULL || k == 1))
				g_print("%s: not accessible: %s\n", p->name, p->denied);
		}
	}
	return FST_EXIT_OK;
}
