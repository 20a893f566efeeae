/* the CLI's shared parts: error mapping and the progress display */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"

#include <stdio.h>
#include <unistd.h>

#include "fst-error.h"

FstExit
fst_cli_exit_for_error(const GError *error)
{
	if (error->domain != FST_ERROR)
		return FST_EXIT_INTERNAL;
	switch (error->code) {
	case FST_ERROR_CONFIG:
	case FST_ERROR_NOT_FOUND:
	case FST_ERROR_PERMISSION_DENIED:
	case FST_ERROR_INVALID_DATA:
		return FST_EXIT_CONFIG;
	case FST_ERROR_CA_UNAVAILABLE:
		return FST_EXIT_CA_UNAVAILABLE;
	case FST_ERROR_DATABASE:
		return FST_EXIT_DATABASE;
	case FST_ERROR_CANCELLED:
		return FST_EXIT_CANCELLED;
	default:
		return FST_EXIT_INTERNAL;
	}
}

static const gchar *
fst_cli_color(FstCliProgress *self, FstStep step)
{
	if (!self->color)
		return "";
	if (step == FST_STEP_DONE)
		return "\033[32m";
	if (step == FST_STEP_FAILED)
		return "\033[31m";
	return "\033[33m";
}

static gchar *
fst_cli_bar(gdouble fraction)
{
	const guint width = 20;
	guint filled = (guint)(CLAMP(fraction, 0.0, 1.0) * width + 0.5);
	GString *bar = g_string_new("[");
	for (guint i = 0; i < width; i++)
		g_string_append_c(bar, i < filled ? '#' : '.');
	g_string_append_c(bar, ']');
	return g_string_free(bar, FALSE);
}

/* redraws the block of per-port lines in place */
static void
fst_cli_progress_redraw(FstCliProgress *self)
{
	if (self->drawn > 0)
		g_print("\033[%uA", self->drawn);
	for (guint i = 0; i < self->lines->len; i++)
		g_print("\r\033[K%s\n", (const gchar *)g_ptr_array_index(self->lines, i));
	self->drawn = self->lines->len;
	fflush(stdout);
}

void
fst_cli_progress_cb(const FstProgress *progress, gpointer user_data)
{
	FstCliProgress *self = user_data;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	const gchar *uid = progress->uid != NULL ? progress->uid : "-";
	const gchar *detail = progress->detail != NULL ? progress->detail : "";

	if (self->quiet)
		return;
	if (!self->tty) {
		/* plain and parseable: port, device, step, detail */
		g_print("%s %s %s%s%s\n",
			progress->port,
			uid,
			fst_step_to_string(progress->step),
			detail[0] != '\0' ? " " : "",
			detail);
		return;
	}
	{
		g_autofree gchar *bar = fst_cli_bar(progress->fraction);
		g_autofree gchar *line = NULL;
		guint idx = G_MAXUINT;
		for (guint i = 0; i < self->ports->len; i++) {
			if (g_strcmp0(g_ptr_array_index(self->ports, i), progress->port) == 0)
				idx = i;
		}
		line = g_strdup_printf("%-14s %-22s %s %s%-8s%s %.60s",
				       progress->port,
				       uid,
				       bar,
				       fst_cli_color(self, progress->step),
				       fst_step_to_string(progress->step),
				       self->color ? "\033[0m" : "",
				       detail);
		if (idx == G_MAXUINT) {
			g_ptr_array_add(self->ports, g_strdup(progress->port));
			g_ptr_array_add(self->lines, g_steal_pointer(&line));
		} else {
			g_free(g_ptr_array_index(self->lines, idx));
			g_ptr_array_index(self->lines, idx) = g_steal_pointer(&line);
		}
		fst_cli_progress_redraw(self);
	}
}

void
fst_cli_progress_init(FstCliProgress *self, gboolean quiet)
{
	const gchar *term = g_getenv("TERM");
	g_mutex_init(&self->lock);
	self->tty = isatty(STDOUT_FILENO) && g_strcmp0(term, "dumb") != 0;
	self->color = self->tty && g_getenv("NO_COLOR") == NULL;
	self->quiet = quiet;
	self->ports = g_ptr_array_new_with_free_func(g_free);
	self->lines = g_ptr_array_new_with_free_func(g_free);
}

void
fst_cli_progress_clear(FstCliProgress *self)
{
	g_mutex_clear(&self->lock);
	g_ptr_array_unref(self->ports);
	g_ptr_array_unref(self->lines);
}

