/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstSetupPage: the supervisor's view of what the station issues with: the
 * workspace's CAs with their expiry, and every profile checked with each of
 * its errors listed (as `fleetstation ca list` and `profile check` do); and
 * a new workspace's CA, created or imported with the engine's
 * fst_ca_ops_create() and fst_ca_ops_import() (as `ca create` and `ca
 * import`), and the issuing CA renewed with fst_ca_ops_renew() (as `ca
 * renew`), whose secrets the page's interaction asks for in a dialog. The
 * files are read and the keys made in GTask threads.
 */

#define G_LOG_DOMAIN "FstGui"

#include "fst-setup-page.h"

#include <glib/gi18n.h>

#include "fst-ca-ops.h"
#include "fst-ca-store.h"
#include "fst-gui-text.h"
#include "fst-profile.h"
#include "fst-station.h"

struct _FstSetupPage {
	GtkWidget parent_instance;
	/* template widgets, borrowed */
	GtkBox *result_box;
	GtkEditable *organization_entry;
	GtkDropDown *key_type_drop;
	GtkSpinButton *days_spin;
	GtkEditable *cert_entry;
	GtkEditable *key_entry;
	GtkEditable *pkcs12_entry;
	GtkEditable *chain_entry;
	/* owned */
	gchar *workspace;               /* (owned) (nullable) */
	GCancellable *cancellable;      /* (owned) */
	FstGuiInteraction *interaction; /* (owned) (nullable): asks for the CA secrets */
	gboolean busy;                  /* a CA is being made or imported */
};

G_DEFINE_TYPE(FstSetupPage, fst_setup_page, GTK_TYPE_WIDGET)

enum { SIGNAL_CA_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = {0};

/* what one of the page's threads works on */
typedef struct {
	gchar *workspace;            /* (owned) */
	FstInteraction *interaction; /* (owned) (nullable) */
	gboolean create;             /* a new CA, else an import */
	gboolean renew;              /* a renewal of the issuing CA */
	gchar *organization;         /* (owned) (nullable) */
	FstKeyType key_type;
	guint days;
	gchar *cert;   /* (owned) (nullable) */
	gchar *key;    /* (owned) (nullable) */
	gchar *pkcs12; /* (owned) (nullable) */
	gchar *chain;  /* (owned) (nullable) */
} FstSetupPageOp;

static void
fst_setup_page_op_free(FstSetupPageOp *op)
{
	g_free(op->workspace);
	g_clear_object(&op->interaction);
	g_free(op->organization);
	g_free(op->cert);
	g_free(op->key);
	g_free(op->pkcs12);
	g_free(op->chain);
	g_free(op);
}

static void
fst_setup_page_list_cas_thread(GTask *task,
                               gpointer source_object,
                               gpointer task_data,
                               GCancellable *cancellable)
{
	FstSetupPageOp *op = task_data;
	g_autofree gchar *ca_dir = g_build_filename(op->workspace, "ca", NULL);
	g_autoptr(GString) text = g_string_new(NULL);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	GError *error = NULL;
	g_autoptr(GPtrArray) infos = fst_ca_store_list(ca_dir, &error);

	if (infos == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_string_append_printf(text, _("CAs in %s: %u\n"), ca_dir, infos->len);
	for (guint i = 0; i < infos->len; i++) {
		FstCaInfo *info = g_ptr_array_index(infos, i);
		gint64 days = (info->not_after - now) / 86400;
		g_autoptr(GDateTime) until = g_date_time_new_from_unix_utc(info->not_after);
		g_autofree gchar *until_str = g_date_time_format(until, "%Y-%m-%d");
		g_string_append_printf(text, "%s: %s\n", info->name, info->subject);
		g_string_append_printf(text,
		                       _("  key %s (%s), valid until %s, %s\n"),
		                       info->key,
		                       info->key_store,
		                       until_str,
		                       g_str_has_prefix(info->name, FST_CA_STORE_RETIRED_PREFIX)
		                           ? _("retired by a renewal")
		                       : days < 0                      ? _("EXPIRED")
		                       : days < FST_CA_STORE_WARN_DAYS ? _("EXPIRES SOON")
		                                                       : _("ok"));
	}
	g_task_return_pointer(task, g_string_free(g_steal_pointer(&text), FALSE), g_free);
}

static gint
fst_setup_page_compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

static void
fst_setup_page_check_dir(GString *text, const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		if (g_str_has_suffix(name, ".profile"))
			g_ptr_array_add(names, g_strdup(name));
	}
	g_ptr_array_sort(names, fst_setup_page_compare_names);
	for (guint i = 0; i < names->len; i++) {
		g_autofree gchar *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
		g_autoptr(GPtrArray) errors = NULL;
		g_autoptr(FstProfile) profile = fst_profile_check_file(path, &errors);
		if (profile != NULL) {
			g_autofree gchar *summary = fst_profile_describe(profile);
			g_string_append_printf(text, _("%s: ok: %s\n"), path, summary);
			continue;
		}
		g_string_append_printf(text, _("%s: %u error(s)\n"), path, errors->len);
		for (guint j = 0; j < errors->len; j++) {
			const GError *error = g_ptr_array_index(errors, j);
			g_string_append_printf(text, "  %s\n", error->message);
		}
	}
}

static void
fst_setup_page_check_profiles_thread(GTask *task,
                                     gpointer source_object,
                                     gpointer task_data,
                                     GCancellable *cancellable)
{
	g_autofree gchar *templates =
	    g_build_filename(fst_station_templates_dir(), "profiles", NULL);
	FstSetupPageOp *op = task_data;
	g_autofree gchar *own = g_build_filename(op->workspace, "profiles", NULL);
	g_autoptr(GString) text = g_string_new(NULL);

	fst_setup_page_check_dir(text, templates);
	fst_setup_page_check_dir(text, own);
	if (text->len == 0)
		g_string_append_printf(text, _("No profile in %s or %s"), templates, own);
	g_task_return_pointer(task, g_string_free(g_steal_pointer(&text), FALSE), g_free);
}

/* a new CA for the workspace, made (an organization given or not, as `ca
 * create`) or imported (files given, as `ca import`) by the engine */
static void
fst_setup_page_ca_thread(GTask *task,
                         gpointer source_object,
                         gpointer task_data,
                         GCancellable *cancellable)
{
	FstSetupPageOp *op = task_data;
	g_autofree gchar *ca_dir = g_build_filename(op->workspace, "ca", NULL);
	g_autofree gchar *subject = NULL;
	g_autofree gchar *retired = NULL;
	GError *error = NULL;

	if (op->renew) {
		FstCaOpsRenew renew = {0};
		subject =
		    fst_ca_ops_renew(op->workspace, op->interaction, &renew, &retired, &error);
		if (subject == NULL) {
			g_task_return_error(task, error);
			return;
		}
		g_task_return_pointer(
		    task,
		    g_strdup_printf(
		        _("Renewed the issuing CA %s in %s; the one before is kept as %s "
		          "for the certificates it issued\n"
		          "Press Unlock CA on the line to issue with the new one"),
		        subject,
		        ca_dir,
		        retired),
		    g_free);
		return;
	}
	if (op->create) {
		FstCaOpsCreate create = {
		    .organization = op->organization,
		    .key_type = op->key_type,
		    .days = op->days,
		};
		subject = fst_ca_ops_create(op->workspace, op->interaction, &create, NULL, &error);
	} else {
		FstCaOpsImport import = {
		    .cert = op->cert,
		    .key = op->key,
		    .pkcs12 = op->pkcs12,
		    .chain = op->chain,
		};
		if (fst_ca_ops_import(op->workspace, op->interaction, &import, &error))
			subject = g_strdup("");
	}
	if (subject == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(
	    task,
	    op->create ? g_strdup_printf(_("Created the root CA and the issuing CA %s in %s\n"
	                                   "Press Unlock CA on the line to open it"),
	                                 subject,
	                                 ca_dir)
	               : g_strdup_printf(_("Imported the issuing CA into %s\n"
	                                   "Press Unlock CA on the line to open it"),
	                                 ca_dir),
	    g_free);
}

static void
fst_setup_page_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = g_task_propagate_pointer(G_TASK(result), &error);
	FstSetupPageOp *op = g_task_get_task_data(G_TASK(result));
	g_autoptr(FstSetupPage) self = FST_SETUP_PAGE(user_data);

	if (text == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	if (op->interaction != NULL) {
		self->busy = FALSE;
		fst_gui_interaction_close(FST_GUI_INTERACTION(op->interaction));
	}
	fst_gui_text_set_lines(
	    self->result_box, text != NULL ? text : error->message, text == NULL);
	if (op->interaction != NULL && text != NULL)
		g_signal_emit(self, signals[SIGNAL_CA_CHANGED], 0);
}

static void
fst_setup_page_run(FstSetupPage *self, FstSetupPageOp *op, GTaskThreadFunc func)
{
	g_autoptr(GTask) task = NULL;
	if (self->workspace == NULL) {
		fst_setup_page_op_free(op);
		return;
	}
	op->workspace = g_strdup(self->workspace);
	task = g_task_new(NULL, self->cancellable, fst_setup_page_done_cb, g_object_ref(self));
	g_task_set_task_data(task, op, (GDestroyNotify)fst_setup_page_op_free);
	fst_gui_text_set_lines(self->result_box, _("Working…"), FALSE);
	g_task_run_in_thread(task, func);
}

static void
fst_setup_page_list_cas_cb(FstSetupPage *self)
{
	fst_setup_page_run(self, g_new0(FstSetupPageOp, 1), fst_setup_page_list_cas_thread);
}

static void
fst_setup_page_check_profiles_cb(FstSetupPage *self)
{
	fst_setup_page_run(self, g_new0(FstSetupPageOp, 1), fst_setup_page_check_profiles_thread);
}

/* an entry's text, or %NULL when empty */
static gchar *
fst_setup_page_text(GtkEditable *entry)
{
	const gchar *text = gtk_editable_get_text(entry);
	return text[0] != '\0' ? g_strdup(text) : NULL;
}

/* an operation that asks for CA secrets: one at a time */
static FstSetupPageOp *
fst_setup_page_secret_op(FstSetupPage *self)
{
	FstSetupPageOp *op;
	if (self->interaction == NULL || self->busy)
		return NULL;
	self->busy = TRUE;
	op = g_new0(FstSetupPageOp, 1);
	op->interaction = FST_INTERACTION(g_object_ref(self->interaction));
	return op;
}

static void
fst_setup_page_create_cb(FstSetupPage *self)
{
	FstSetupPageOp *op = fst_setup_page_secret_op(self);
	GtkStringObject *item = gtk_drop_down_get_selected_item(self->key_type_drop);

	if (op == NULL)
		return;
	op->create = TRUE;
	op->organization = fst_setup_page_text(self->organization_entry);
	op->key_type = item != NULL ? fst_key_type_from_string(gtk_string_object_get_string(item))
	                            : FST_KEY_TYPE_NONE;
	/* typed text (a scanner, an accessibility tool) counts as the value */
	gtk_spin_button_update(self->days_spin);
	op->days = (guint)gtk_spin_button_get_value_as_int(self->days_spin);
	fst_setup_page_run(self, op, fst_setup_page_ca_thread);
}

static void
fst_setup_page_renew_cb(FstSetupPage *self)
{
	FstSetupPageOp *op = fst_setup_page_secret_op(self);

	if (op == NULL)
		return;
	op->renew = TRUE;
	fst_setup_page_run(self, op, fst_setup_page_ca_thread);
}

static void
fst_setup_page_import_cb(FstSetupPage *self)
{
	FstSetupPageOp *op = fst_setup_page_secret_op(self);

	if (op == NULL)
		return;
	op->cert = fst_setup_page_text(self->cert_entry);
	op->key = fst_setup_page_text(self->key_entry);
	op->pkcs12 = fst_setup_page_text(self->pkcs12_entry);
	op->chain = fst_setup_page_text(self->chain_entry);
	fst_setup_page_run(self, op, fst_setup_page_ca_thread);
}

/* file choosers: GtkFileChooserNative (a portal where there is one); the
 * chosen file's path goes into the entry, which can also be typed or scanned */

static void
fst_setup_page_chosen_cb(GtkNativeDialog *dialog, gint response, gpointer user_data)
{
	GtkEditable *entry = GTK_EDITABLE(user_data);
	if (response == GTK_RESPONSE_ACCEPT) {
		g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
		g_autofree gchar *path = file != NULL ? g_file_get_path(file) : NULL;
		if (path != NULL)
			gtk_editable_set_text(entry, path);
	}
	gtk_native_dialog_destroy(dialog);
	g_object_unref(dialog);
}

static void
fst_setup_page_choose(FstSetupPage *self, GtkEditable *entry, const gchar *title)
{
	GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
	GtkFileChooserNative *dialog =
	    gtk_file_chooser_native_new(title,
	                                GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
	                                GTK_FILE_CHOOSER_ACTION_OPEN,
	                                _("_Choose"),
	                                _("_Cancel"));
	gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
	/* the entry outlives the dialog: the page owns both */
	g_signal_connect(dialog, "response", G_CALLBACK(fst_setup_page_chosen_cb), entry);
	gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

static void
fst_setup_page_choose_cert_cb(FstSetupPage *self)
{
	fst_setup_page_choose(self, self->cert_entry, _("Choose the CA certificate"));
}

static void
fst_setup_page_choose_key_cb(FstSetupPage *self)
{
	fst_setup_page_choose(self, self->key_entry, _("Choose the CA key"));
}

static void
fst_setup_page_choose_pkcs12_cb(FstSetupPage *self)
{
	fst_setup_page_choose(self, self->pkcs12_entry, _("Choose the PKCS#12 file"));
}

static void
fst_setup_page_choose_chain_cb(FstSetupPage *self)
{
	fst_setup_page_choose(self, self->chain_entry, _("Choose the CA chain"));
}

/**
 * fst_setup_page_set_interaction:
 * @self: the page
 * @interaction: asks for the secrets of the CA keys being made or imported
 */
void
fst_setup_page_set_interaction(FstSetupPage *self, FstGuiInteraction *interaction)
{
	g_return_if_fail(FST_IS_SETUP_PAGE(self));
	g_set_object(&self->interaction, interaction);
}

/**
 * fst_setup_page_set_workspace:
 * @self: the page
 * @workspace: the station's workspace
 */
void
fst_setup_page_set_workspace(FstSetupPage *self, const gchar *workspace)
{
	g_return_if_fail(FST_IS_SETUP_PAGE(self));
	g_free(self->workspace);
	self->workspace = g_strdup(workspace);
}

static void
fst_setup_page_dispose(GObject *object)
{
	FstSetupPage *self = FST_SETUP_PAGE(object);
	g_cancellable_cancel(self->cancellable);
	gtk_widget_dispose_template(GTK_WIDGET(self), FST_TYPE_SETUP_PAGE);
	G_OBJECT_CLASS(fst_setup_page_parent_class)->dispose(object);
}

static void
fst_setup_page_finalize(GObject *object)
{
	FstSetupPage *self = FST_SETUP_PAGE(object);
	g_object_unref(self->cancellable);
	g_clear_object(&self->interaction);
	g_free(self->workspace);
	G_OBJECT_CLASS(fst_setup_page_parent_class)->finalize(object);
}

static void
fst_setup_page_init(FstSetupPage *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	self->cancellable = g_cancellable_new();
}

static void
fst_setup_page_class_init(FstSetupPageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->dispose = fst_setup_page_dispose;
	object_class->finalize = fst_setup_page_finalize;
	gtk_widget_class_set_template_from_resource(
	    widget_class, "/io/github/fleetstation/Station/fst-setup-page.ui");
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, result_box);
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, organization_entry);
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, key_type_drop);
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, days_spin);
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, cert_entry);
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, key_entry);
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, pkcs12_entry);
	gtk_widget_class_bind_template_child(widget_class, FstSetupPage, chain_entry);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_list_cas_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_check_profiles_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_create_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_import_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_renew_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_choose_cert_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_choose_key_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_choose_pkcs12_cb);
	gtk_widget_class_bind_template_callback(widget_class, fst_setup_page_choose_chain_cb);

	/**
	 * FstSetupPage::ca-changed:
	 * @self: the page
	 *
	 * The workspace has a new issuing CA, created, imported or renewed.
	 */
	signals[SIGNAL_CA_CHANGED] = g_signal_new("ca-changed",
	                                          G_TYPE_FROM_CLASS(klass),
	                                          G_SIGNAL_RUN_LAST,
	                                          0,
	                                          NULL,
	                                          NULL,
	                                          NULL,
	                                          G_TYPE_NONE,
	                                          0);
	gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
}
