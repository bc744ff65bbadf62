/* The pieces of `scalerl report`'s page: one self-contained HTML file (inline CSS and SVG; no
 * script, font or image fetched), written as well-formed XHTML so that an XML parser reads it as
 * a browser does, every text escaped (ref/common/xml.h). */
#ifndef SCALERL_REPORT_PAGE_H
#define SCALERL_REPORT_PAGE_H

#include <stdio.h>

#include "ref/fit/fitrun.h"
#include "ref/rl/recipe.h"

/* The doctype, head (title, style) and the body's opening with an h1 of the title. */
void page_begin(FILE *f, const char *title);
void page_end(FILE *f);
/* printf, with the result escaped as text. */
void page_text(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A value with its interval, "0.9614 [0.9477, 0.9747]", as table-cell text. */
void page_value_ci(FILE *f, const char *fmt, double v, int has_ci, double lo, double hi);

/* The table of fitted curves: one column per fit (names[i] over fits[i]; a NULL fit is a column
 * of dashes), rows for the points used, A, B, Cmid, R0, R^2 and the hold-out errors. */
void page_fit_table(FILE *f, const char *const *names, const CurveFit *const *fits, int n, const char *xname);

/* The ScaleRL components of config c beside the paper's, one row each. */
void page_components(FILE *f, const TrainConfig *c);

/* Training signals as small multiples on one shared log compute axis: for every field of the
 * step rows in a known list that some run has (and the eval rows' pass rate), one chart with a
 * line per run in colours[i]. Fields no run has are left out, so the page follows the trainer's
 * rows as they gain fields. Returns 0, or 1/2 with err (a run's metrics.jsonl unreadable). */
int page_signals(FILE *f, const char *const *dirs, const int *colours, int n, const char *xname, char *err);

#endif
