/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation profile check FILE...: checks provisioning profiles before they reach a line */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"
#include "fst-error.h"
#include "fst-profile.h"

static FstExit
fst_cli_profile_check(gint argc, gchar **argv)
{
	FstExit rc = FST_EXIT_OK;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON document", NULL}, {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("FILE... - check provisioning profiles");
	g_autoptr(JsonBuilder) b = json_builder_new();

	g_option_context_set_summary(
	    context,
	    "Checks provisioning profiles (templates/profiles/README.md) and prints a\n"
	    "summary of each, or every error it has, each with the line it is on, then\n"
	    "the number of errors.");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_parse(context, "profile check", &argc, &argv))
		return FST_EXIT_USAGE;
	if (argc < 2)
		return fst_cli_usage_error("profile check", json, "give one or more profile files");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "profiles");
	json_builder_begin_array(b);
	for (gint i = 1; i < argc; i++) {
		g_autoptr(GPtrArray) errors = NULL;
		g_autoptr(FstProfile) profile = fst_profile_check_file(argv[i], &errors);
		g_autofree gchar *summary = NULL;

		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "file", argv[i]);
		json_builder_set_member_name(b, "ok");
		json_builder_add_boolean_value(b, profile != NULL);
		if (profile == NULL) {
			/* every error of the file, each naming the group, the key and
			 * the line */
			json_builder_set_member_name(b, "summary");
			json_builder_add_null_value(b);
			json_builder_set_member_name(b, "errors");
			json_builder_begin_array(b);
			for (guint j = 0; j < errors->len; j++) {
				const GError *error = g_ptr_array_index(errors, j);
				g_printerr("%s\n", error->message);
				json_builder_begin_object(b);
				fst_cli_json_add_string(b,
				                        "error_code",
				                        error->domain == FST_ERROR
				                            ? fst_error_code_to_string(error->code)
				                            : "internal");
				fst_cli_json_add_string(b, "error", error->message);
				json_builder_end_object(b);
				if (rc == FST_EXIT_OK)
					rc = fst_cli_exit_for_error(error);
			}
			json_builder_end_array(b);
			json_builder_end_object(b);
			g_printerr(
			    "%s: %u error%s\n", argv[i], errors->len, errors->len == 1 ? "" : "s");
			continue;
		}
		summary = fst_profile_describe(profile);
		fst_cli_json_add_string(b, "summary", summary);
		json_builder_set_member_name(b, "errors");
		json_builder_begin_array(b);
		json_builder_end_array(b);
		json_builder_end_object(b);
		if (!json)
			g_print("%s: ok: %s\n", argv[i], summary);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	if (json)
		fst_cli_print_builder(b);
	return rc;
}

/**
 * fst_cli_profile:
 * @argc: number of arguments, from the command name on
 * @argv: the arguments; argv[0] is "profile"
 *
 * `fleetstation profile check FILE...`: loads each profile with the station's
 * own parser and prints a one-line summary, or every error of each file
 * with its line number, then the count. Exits 0 if every file is good, 3 (configuration)
 * otherwise, 2 on bad usage.
 *
 * Returns: the exit code
 */
FstExit
fst_cli_profile(gint argc, gchar **argv)
{
	if (argc >= 2 && (g_strcmp0(argv[1], "--help") == 0 || g_strcmp0(argv[1], "-h") == 0)) {
		g_print("Usage: fleetstation profile check [--json] FILE...\n"
		        "\n"
		        "Checks provisioning profiles (see fleetstation profile check --help).\n"
		        "\n" FST_CLI_EXIT_CODES);
		return FST_EXIT_OK;
	}
	if (argc >= 2 && g_strcmp0(argv[1], "check") == 0)
		return fst_cli_profile_check(argc - 1, argv + 1);
	{
		g_autofree gchar *msg = g_strdup_printf(
		    "unknown subcommand %s (use: fleetstation profile check FILE...)",
		    argc >= 2 ? argv[1] : "(none)");
		return fst_cli_usage_error("profile", fst_cli_argv_wants_json(argc, argv), msg);
	}
}
