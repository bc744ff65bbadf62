/* How fitted curves are shown: table rows and the fields of fit.json / `json=1` lines. Shared by
 * the fit and compare commands so that both print a curve the same way. Parameters are always
 * finite (the fitter refuses otherwise); intervals are shown only when the bootstrap produced
 * them, and written as null otherwise. */
#ifndef SCALERL_FITREPORT_H
#define SCALERL_FITREPORT_H

#include <stdio.h>

#include "ref/fit/fitrun.h"
#include "ref/common/jsonl.h"

/* "0.7012 [0.6950, 0.7080]" (or just the value without intervals); fmt is a printf format for
 * one double, e.g. "%.4f" or "%.3g". */
void report_value_ci(char *buf, size_t n, const char *fmt, double v, int has_ci, double lo, double hi);

/* A table of curves: header, then one row per curve. */
void report_table_header(FILE *f, const char *first);
void report_table_row(FILE *f, const char *name, const CurveFit *c);

/* The fit's fields: A, B, Cmid, R0 (+ R0_fitted), intervals, r2, sse, points, excluded,
 * holdout, fitted range, bootstrap counts, hold-out errors, the power law. */
void report_curve_json(JsonWriter *w, const CurveFit *c, const FitSettings *s);

/* The human block for one curve: parameters, power law, hold-out. */
void report_curve_text(FILE *f, const CurveFit *c, const FitSettings *s);

/* The early-cutoff sensitivity table. */
void report_cutoffs_text(FILE *f, const CutoffRow *rows, const char *xname);
void report_cutoffs_json(JsonWriter *w, const CutoffRow *rows);

#endif
