/* Compute-performance plots: a self-contained SVG (log compute axis, observed points with their
 * intervals, the fitted sigmoid solid over the fitted range and dashed beyond, a shaded bootstrap
 * band, each ceiling A drawn and labelled, a legend) and a compact text preview for the terminal.
 * The SVG uses only basic elements and inline attributes, so any browser opens it. */
#ifndef SCALERL_PLOT_H
#define SCALERL_PLOT_H

#include <stdio.h>

#include "errbuf.h"
#include "ref/fit/fit.h"
#include "ref/fit/fitrun.h"
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

/* s's curve from a fit: the sigmoid, its fitted range and, when the bootstrap gave intervals,
 * its resamples for the band. */
void plot_series_fit(PlotSeries *s, const CurveFit *f);

/* The SVG element alone (no XML declaration), e.g. inline in an HTML page. Returns 1, or 0
 * having written nothing when there is nothing to draw (plot_svg says why). */
int plot_svg_write(FILE *f, const PlotSeries *s, int n, const char *xname, const char *title);
/* Writes the SVG to path atomically. 0, 1 (nothing to draw) or 2 (I/O), with err. */
int plot_svg(const char *path, const PlotSeries *s, int n, const char *xname, const char *title, char *err);

/* A width x height character preview: letters for points (a, b, ... by colour), '-' for a fitted
 * curve over its fitted range and '.' beyond, then a legend. */
void plot_text(FILE *f, const PlotSeries *s, int n, const char *xname, int width, int height);

/* Small multiples: one signal of a run (or of several, one colour each) against compute, on a log
 * x axis shared by every chart of a page, drawn small (300 x 170). Long series are drawn as means
 * over bins of log x; short ones (eval rows) can be markers. */
typedef struct {
    const double *x, *y; /* n points, x ascending */
    int n;
    int color;   /* palette index */
    int markers; /* 1: a dot per point instead of a line */
} LineSeries;

typedef struct {
    const char *title;
    const char *xname;
    double x_lo, x_hi; /* the shared x range, 0 < x_lo < x_hi */
} LineChart;

/* Writes one chart's SVG element; returns the number of points drawn (0: nothing written). */
int plot_lines_svg(FILE *f, const LineChart *c, const LineSeries *s, int n);

#endif
