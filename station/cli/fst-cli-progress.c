/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live display of the long commands: one line per port, redrawn in place
 * on a terminal; plain `PORT DEVICE STEP DETAIL` lines when piped; one JSON
 * object per event with --json.
 *
 * On a terminal every line is cut to the width of the terminal (read again on
 * SIGWINCH, `COLUMNS` when the size cannot be read), so that no line wraps:
 * a wrapped line would make the cursor-up redraw splice rows. The columns
 * shrink in turn (detail first, then the bar, then the port path from its
 * left end) and whatever is cut is marked with an ellipsis. A block taller
 * than the terminal shows the first ports and a line counting the others.
 * After a resize the block is drawn anew below, since the terminal may have
 * re-flowed what was drawn before.
 */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define FST_CLI_ELLIPSIS "…"

static const gchar *
fst_cli_color(FstCliProgress *self, FstStep step)
{
	if (!self->color)
		return "";
	if (step == FST_STEP_DONE)
		return "\033[32m";
	if (step == FST_STEP_FAILED)
		return "\033[31m";
	if (step == FST_STEP_SKIPPED)
		return "\033[36m";
	return "\033[33m";
}

/**
 * fst_cli_progress_read_size:
 * @self: the display
 *
 * Reads the terminal's size (`COLUMNS` and `LINES` when it cannot be read).
 */
void
fst_cli_progress_read_size(FstCliProgress *self)
{
	struct winsize ws = {0};
	const gchar *columns = g_getenv("COLUMNS");
	const gchar *lines = g_getenv("LINES");

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		self->width = ws.ws_col;
		self->height = ws.ws_row > 0 ? ws.ws_row : 24;
		return;
	}
	self->width = columns != NULL ? (guint)g_ascii_strtoull(columns, NULL, 10) : 0;
	self->height = lines != NULL ? (guint)g_ascii_strtoull(lines, NULL, 10) : 0;
	if (self->width < 20)
		self->width = 80;
	if (self->height < 4)
		self->height = 24;
}

/**
 * fst_cli_fit:
 * @out: where to append
 * @text: UTF-8 text
 * @width: columns
 * @keep_tail: cut at the start, for paths whose end says most
 *
 * Appends @text in exactly @width columns: padded, or cut with an ellipsis.
 */
void
fst_cli_fit(GString *out, const gchar *text, guint width, gboolean keep_tail)
{
	glong len = g_utf8_strlen(text, -1);

	if (width == 0)
		return;
	if ((guint)len <= width) {
		g_string_append(out, text);
		for (guint i = (guint)len; i < width; i++)
			g_string_append_c(out, ' ');
		return;
	}
	if (keep_tail) {
		g_string_append(out, FST_CLI_ELLIPSIS);
		g_string_append(out, g_utf8_offset_to_pointer(text, len - (glong)(width - 1)));
		return;
	}
	g_string_append_len(out, text, g_utf8_offset_to_pointer(text, width - 1) - text);
	g_string_append(out, FST_CLI_ELLIPSIS);
}

/* one port's line, at most @width - 1 columns (the last column is left free:
 * some terminals wrap when it is written) */
static gchar *
fst_cli_progress_line(FstCliProgress *self, const FstProgress *p, guint width)
{
	GString *line = g_string_new(NULL);
	const gchar *step = fst_step_to_string(p->step);
	const gchar *detail = p->detail != NULL ? p->detail : "";
	guint avail = width > 1 ? width - 1 : 0;
	guint port_w = 16;
	guint uid_w = 22;
	guint bar_w = 20;
	guint step_w = 8;
	guint fixed;

	/* narrow terminals: the bar shrinks, then the port and the device id */
	while (port_w + 1 + uid_w + 1 + (bar_w + 2) + 1 + step_w + 1 + 10 > avail && bar_w > 6)
		bar_w--;
	while (port_w + 1 + uid_w + 1 + (bar_w + 2) + 1 + step_w + 1 + 10 > avail && port_w > 8)
		port_w--;
	while (port_w + 1 + uid_w + 1 + (bar_w + 2) + 1 + step_w + 1 + 10 > avail && uid_w > 10)
		uid_w--;
	fixed = port_w + 1 + uid_w + 1 + (bar_w + 2) + 1 + step_w;

	fst_cli_fit(line, p->port, port_w, TRUE);
	g_string_append_c(line, ' ');
	fst_cli_fit(line, p->uid != NULL ? p->uid : "-", uid_w, FALSE);
	g_string_append(line, " [");
	{
		guint filled = (guint)(CLAMP(p->fraction, 0.0, 1.0) * bar_w + 0.5);
		for (guint i = 0; i < bar_w; i++)
			g_string_append_c(line, i < filled ? '#' : '.');
	}
	g_string_append(line, "] ");
	g_string_append(line, fst_cli_color(self, p->step));
	fst_cli_fit(line, step, step_w, FALSE);
	if (self->color)
		g_string_append(line, "\033[0m");
	if (avail > fixed + 1 && detail[0] != '\0') {
		g_string_append_c(line, ' ');
		fst_cli_fit(
		    line, detail, MIN((guint)g_utf8_strlen(detail, -1), avail - fixed - 1), FALSE);
	}
	return g_string_free(line, FALSE);
}

/* redraws the block of per-port lines in place */
static void
fst_cli_progress_redraw(FstCliProgress *self)
{
	guint shown = self->lanes->len;
	guint n_done = 0;
	guint n_failed = 0;
	guint n_skipped = 0;

	if (self->width == 0)
		fst_cli_progress_read_size(self);
	/* the whole block must fit on the screen for cursor-up to reach its top */
	if (shown > self->height - 2)
		shown = self->height - 2;
	if (self->drawn > 0)
		g_print("\033[%uA", self->drawn);
	for (guint i = 0; i < shown; i++) {
		g_autofree gchar *line =
		    fst_cli_progress_line(self, g_ptr_array_index(self->lanes, i), self->width);
		g_print("\r\033[K%s\n", line);
	}
	self->drawn = shown;
	if (shown < self->lanes->len) {
		g_autoptr(GString) more = g_string_new(NULL);
		g_autofree gchar *text = NULL;
		for (guint i = shown; i < self->lanes->len; i++) {
			const FstProgress *p = g_ptr_array_index(self->lanes, i);
			if (p->step == FST_STEP_DONE)
				n_done++;
			else if (p->step == FST_STEP_FAILED)
				n_failed++;
			else if (p->step == FST_STEP_SKIPPED)
				n_skipped++;
		}
		text =
		    g_strdup_printf("and %u more ports: %u done, %u skipped, %u failed, %u running",
		                    self->lanes->len - shown,
		                    n_done,
		                    n_skipped,
		                    n_failed,
		                    self->lanes->len - shown - n_done - n_skipped - n_failed);
		fst_cli_fit(more, text, MIN((guint)strlen(text), self->width - 1), FALSE);
		g_print("\r\033[K%s\n", more->str);
		self->drawn++;
	}
	fflush(stdout);
}

static gboolean
fst_cli_progress_resize_cb(gpointer user_data)
{
	FstCliProgress *self = user_data;
	fst_cli_progress_read_size(self);
	/* what was drawn may have been re-flowed: start a fresh block below it */
	self->drawn = 0;
	if (self->lanes->len > 0)
		fst_cli_progress_redraw(self);
	return G_SOURCE_CONTINUE;
}

static void
fst_cli_progress_json(const FstProgress *progress)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	fst_cli_json_add_string(b, "event", "progress");
	fst_cli_json_add_string(b, "port", progress->port);
	fst_cli_json_add_string(b, "device", progress->uid);
	fst_cli_json_add_string(b, "step", fst_step_to_string(progress->step));
	json_builder_set_member_name(b, "fraction");
	json_builder_add_double_value(b, progress->fraction);
	fst_cli_json_add_string(b, "detail", progress->detail != NULL ? progress->detail : "");
	json_builder_end_object(b);
	fst_cli_print_builder(b);
}

/**
 * fst_cli_progress_cb:
 * @progress: a device's step
 * @user_data: the #FstCliProgress
 *
 * Shows @progress as the display's mode says. Called on the main thread (the
 * job's "progress" signal).
 */
void
fst_cli_progress_cb(const FstProgress *progress, gpointer user_data)
{
	FstCliProgress *self = user_data;
	const gchar *detail = progress->detail != NULL ? progress->detail : "";
	guint idx = G_MAXUINT;

	if (self->json) {
		fst_cli_progress_json(progress);
		return;
	}
	if (self->quiet)
		return;
	if (!self->tty) {
		/* plain and parseable: port, device, step, detail */
		g_print("%s %s %s%s%s\n",
		        progress->port,
		        progress->uid != NULL ? progress->uid : "-",
		        fst_step_to_string(progress->step),
		        detail[0] != '\0' ? " " : "",
		        detail);
		return;
	}
	if (self->resize_id == 0)
		self->resize_id = g_unix_signal_add(SIGWINCH, fst_cli_progress_resize_cb, self);
	for (guint i = 0; i < self->lanes->len; i++) {
		const FstProgress *p = g_ptr_array_index(self->lanes, i);
		if (g_strcmp0(p->port, progress->port) == 0)
			idx = i;
	}
	if (idx == G_MAXUINT) {
		g_ptr_array_add(self->lanes, fst_progress_copy(progress));
	} else {
		fst_progress_free(g_ptr_array_index(self->lanes, idx));
		g_ptr_array_index(self->lanes, idx) = fst_progress_copy(progress);
	}
	fst_cli_progress_redraw(self);
}

/**
 * fst_cli_progress_init:
 * @self: zeroed storage
 * @quiet: show nothing but failures and the summary
 *
 * Chooses the mode: a live block on a terminal (colour unless `NO_COLOR` or
 * `TERM=dumb`), plain lines otherwise. Set @self->json for --json.
 */
void
fst_cli_progress_init(FstCliProgress *self, gboolean quiet)
{
	const gchar *term = g_getenv("TERM");
	self->tty = isatty(STDOUT_FILENO) && g_strcmp0(term, "dumb") != 0;
	self->color = self->tty && g_getenv("NO_COLOR") == NULL;
	self->quiet = quiet;
	self->lanes = g_ptr_array_new_with_free_func((GDestroyNotify)fst_progress_free);
}

void
fst_cli_progress_clear(FstCliProgress *self)
{
	if (self->resize_id != 0)
		g_source_remove(self->resize_id);
	self->resize_id = 0;
	g_clear_pointer(&self->lanes, g_ptr_array_unref);
}
