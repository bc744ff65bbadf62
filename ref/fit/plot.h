/* Compute-performance plots: a self-contained SVG (log compute axis, observed points with their
 * intervals, the fitted sigmoid solid over the fitted range and dashed beyond, a shaded bootstrap
 * band, each ceiling A drawn and labelled, a legend) and a compact text preview for the terminal.
 * The SVG uses only basic elements and inline attributes, so any browser opens it. */
#ifndef SCALERL_PLOT_H
#define SCALERL_PLOT_H

#include <stdio.h>

#include "errbuf.h"
#include "ref/fit/fit.h"
#include "ref/fit/rundata.h"

typedef struct {
    const char *label;          /* legend entry; NULL: none (another series of this colour has it) */
    int color;                  /* palette index */
    const EvalPoint *pts;       /* observed points (may be none) */
    int n;
    const unsigned char *role;  /* per point: ROLE_FIT (filled), else hollow; NULL: all filled */
    int has_fit;
    Sigmoid p;
    double fit_lo, fit_hi;      /* x range the curve was fitted on: solid there, dashed beyond */
    const Sigmoid *boot;        /* bootstrap curves for a 95% band (may be NULL) */
    int n_boot;
} PlotSeries;

/* Writes the SVG to path atomically. 0, 1 (nothing to draw) or 2 (I/O), with err. */
int plot_svg(const char *path, const PlotSeries *s, int n, const char *xname, const char *title, char *err);

/* A width x height character preview: letters for points (a, b, ... by colour), '-' for a fitted
 * curve over its fitted range and '.' beyond, then a legend. */
void plot_text(FILE *f, const PlotSeries *s, int n, const char *xname, int width, int height);

#endif
