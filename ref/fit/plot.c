#include "ref/fit/plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/fit/fitrun.h"
#include "ref/common/util.h"
#include "ref/common/xml.h"

/* Tableau 10: distinct hues that stay distinct for most colour-blind readers. */
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define N_PALETTE 10

/* SVG geometry, in pixels. The right margin holds the labels of the ceilings. */
#define SVG_W 860
#define SVG_H 520
#define M_LEFT 70
#define M_RIGHT 110
#define M_TOP 44
#define M_BOTTOM 60
#define PLOT_W (SVG_W - M_LEFT - M_RIGHT)
#define PLOT_H (SVG_H - M_TOP - M_BOTTOM)

typedef struct {
    double lx0, lx1; /* log10 x at the left and right edges */
    double y0, y1;   /* pass rate at the bottom and top */
} Frame;

static int frame_compute(const PlotSeries *s, int n, Frame *fr)
{
    double lmin = INFINITY, lmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    int any_fit = 0;
#define TAKE_Y(v)                      \
    do {                               \
        double v_ = (v);               \
        if (isfinite(v_)) {            \
            if (v_ < ymin) ymin = v_;  \
            if (v_ > ymax) ymax = v_;  \
        }                              \
    } while (0)
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < s[k].n; i++) {
            const EvalPoint *p = &s[k].pts[i];
            if (!(p->x > 0) || !isfinite(p->x)) continue;
            double l = log10(p->x);
            if (l < lmin) lmin = l;
            if (l > lmax) lmax = l;
            TAKE_Y(p->y);
            TAKE_Y(p->lo);
            TAKE_Y(p->hi);
        }
        if (s[k].has_fit) {
            any_fit = 1;
            double a = log10(s[k].fit_lo), b = log10(s[k].fit_hi);
            if (a < lmin) lmin = a;
            if (b > lmax) lmax = b;
            TAKE_Y(s[k].p.A);
            TAKE_Y(s[k].p.R0);
        }
    }
#undef TAKE_Y
    if (!isfinite(lmin) || !isfinite(ymin)) return 0;
    /* Room to the right for the extrapolation: a quarter of the span, at least half a decade. */
    if (any_fit) lmax += fmax(0.5, 0.25 * (lmax - lmin));
    fr->lx0 = floor(lmin);
    fr->lx1 = ceil(lmax);
    if (fr->lx1 - fr->lx0 < 1) fr->lx1 = fr->lx0 + 1;
    fr->y0 = floor(ymin * 10 + 1e-9) / 10;
    fr->y1 = ceil(ymax * 10 - 1e-9) / 10;
    if (fr->y1 - fr->y0 < 0.1) fr->y1 = fr->y0 + 0.1;
    return 1;
}

static double px_x(const Frame *fr, double x)
{
    return M_LEFT + (log10(x) - fr->lx0) / (fr->lx1 - fr->lx0) * PLOT_W;
}

static double px_y(const Frame *fr, double y)
{
    double v = M_TOP + (fr->y1 - y) / (fr->y1 - fr->y0) * PLOT_H;
    /* Keep anything that strays out of range on the frame's edge rather than off the canvas. */
    return v < M_TOP ? M_TOP : v > M_TOP + PLOT_H ? M_TOP + PLOT_H : v;
}

static const char *color_of(const PlotSeries *s)
{
    return palette[(s->color % N_PALETTE + N_PALETTE) % N_PALETTE];
}

static void draw_axes(FILE *f, const Frame *fr, const char *xname, const char *title)
{
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n", M_LEFT, M_TOP,
            PLOT_W, PLOT_H);
    int decades = (int)(fr->lx1 - fr->lx0);
    for (int d = 0; d <= decades; d++) {
        /* Decades always; 2 and 5 between them when the axis spans few decades. */
        for (int m = 1; m <= (decades <= 3 ? 5 : 1); m += (m == 1 ? 1 : 3)) {
            double lx = fr->lx0 + d + log10((double)m);
            if (lx > fr->lx1 + 1e-9) break;
            double x = M_LEFT + (lx - fr->lx0) / (fr->lx1 - fr->lx0) * PLOT_W;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x, M_TOP, x, M_TOP + PLOT_H);
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"%d\" text-anchor=\"middle\">%de%d</text>\n", x,
                    M_TOP + PLOT_H + 16, m == 1 ? 12 : 10, m, (int)(fr->lx0 + d));
        }
    }
    int nt = (int)lround((fr->y1 - fr->y0) / 0.1);
    int step = nt > 10 ? 2 : 1;
    for (int t = 0; t <= nt; t += step) {
        double y = fr->y0 + 0.1 * t;
        double py = px_y(fr, y);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", M_LEFT, py, M_LEFT + PLOT_W, py);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\">%.1f</text>\n", M_LEFT - 6, py + 4, y);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\">compute: ", M_LEFT + PLOT_W / 2,
            SVG_H - 18);
    xml_escape(f, xname);
    fprintf(f, " (log scale)</text>\n");
    fprintf(f, "<text x=\"18\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">"
               "pass rate</text>\n", M_TOP + PLOT_H / 2, M_TOP + PLOT_H / 2);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">", SVG_W / 2);
    xml_escape(f, title);
    fprintf(f, "</text>\n");
}

/* The curve between log10 x a and b as one path, dashed or solid. */
static void draw_curve_piece(FILE *f, const Frame *fr, const PlotSeries *s, double a, double b, int dashed)
{
    if (!(b > a)) return;
    const int steps = 80;
    fprintf(f, "<path class=\"data\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"", color_of(s),
            dashed ? " stroke-dasharray=\"6,4\"" : "");
    for (int i = 0; i <= steps; i++) {
        double x = pow(10, a + (b - a) * i / steps);
        fprintf(f, "%c%.1f,%.1f", i ? 'L' : 'M', px_x(fr, x), px_y(fr, sigmoid_at(&s->p, x)));
    }
    fprintf(f, "\"/>\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The 95% band of the bootstrap curves, as one polygon. */
static void draw_band(FILE *f, const Frame *fr, const PlotSeries *s)
{
    enum { STEPS = 100 };
    double *v = malloc(sizeof(double) * (size_t)s->n_boot);
    if (!v) return; /* the band is decoration; the plot stands without it */
    double lo[STEPS + 1], hi[STEPS + 1];
    for (int i = 0; i <= STEPS; i++) {
        double x = pow(10, fr->lx0 + (fr->lx1 - fr->lx0) * i / STEPS);
        for (int b = 0; b < s->n_boot; b++) v[b] = sigmoid_at(&s->boot[b], x);
        qsort(v, (size_t)s->n_boot, sizeof(double), cmp_double);
        lo[i] = quantile_sorted(v, s->n_boot, 0.025);
        hi[i] = quantile_sorted(v, s->n_boot, 0.975);
    }
    free(v);
    fprintf(f, "<path fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" d=\"", color_of(s));
    for (int i = 0; i <= STEPS; i++) {
        double x = pow(10, fr->lx0 + (fr->lx1 - fr->lx0) * i / STEPS);
        fprintf(f, "%c%.1f,%.1f", i ? 'L' : 'M', px_x(fr, x), px_y(fr, hi[i]));
    }
    for (int i = STEPS; i >= 0; i--) {
        double x = pow(10, fr->lx0 + (fr->lx1 - fr->lx0) * i / STEPS);
        fprintf(f, "L%.1f,%.1f", px_x(fr, x), px_y(fr, lo[i]));
    }
    fprintf(f, "Z\"/>\n");
}

static void draw_points(FILE *f, const Frame *fr, const PlotSeries *s)
{
    const char *c = color_of(s);
    for (int i = 0; i < s->n; i++) {
        const EvalPoint *p = &s->pts[i];
        if (!(p->x > 0)) continue;
        double x = px_x(fr, p->x), y = px_y(fr, p->y);
        if (isfinite(p->lo) && isfinite(p->hi))
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-opacity=\"0.6\"/>\n", x,
                    px_y(fr, p->lo), x, px_y(fr, p->hi), c);
        int fitted = !s->role || s->role[i] == ROLE_FIT;
        fprintf(f, "<circle class=\"data\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" stroke=\"%s\"/>\n", x, y,
                fitted ? c : "white", c);
    }
}

typedef struct {
    double y;
    int series;
} Label;

static int cmp_label(const void *a, const void *b)
{
    double x = ((const Label *)a)->y, y = ((const Label *)b)->y;
    return (x > y) - (x < y);
}

/* Each ceiling as a dotted line labelled "A=..." in the right margin, labels pushed apart. */
static void draw_ceilings(FILE *f, const Frame *fr, const PlotSeries *s, int n)
{
    Label *lab = malloc(sizeof(Label) * (size_t)(n > 0 ? n : 1));
    if (!lab) return;
    int m = 0;
    for (int k = 0; k < n; k++) {
        if (!s[k].has_fit) continue;
        double y = px_y(fr, s[k].p.A);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"2,3\"/>\n", M_LEFT,
                y, M_LEFT + PLOT_W, y, color_of(&s[k]));
        lab[m].y = y;
        lab[m].series = k;
        m++;
    }
    qsort(lab, (size_t)m, sizeof *lab, cmp_label);
    for (int i = 1; i < m; i++)
        if (lab[i].y < lab[i - 1].y + 13) lab[i].y = lab[i - 1].y + 13;
    for (int i = 0; i < m; i++)
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">A=%.3f</text>\n", M_LEFT + PLOT_W + 6,
                lab[i].y + 4, color_of(&s[lab[i].series]), s[lab[i].series].p.A);
    free(lab);
}

static void draw_legend(FILE *f, const PlotSeries *s, int n)
{
    int m = 0, width = 0;
    for (int k = 0; k < n; k++) {
        if (!s[k].label) continue;
        m++;
        int w = (int)strlen(s[k].label);
        if (w > width) width = w;
    }
    if (!m) return;
    int x = M_LEFT + 10, y = M_TOP + 10;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>\n",
            x, y, 40 + 7 * (width < 60 ? width : 60), 8 + 16 * m);
    int row = 0;
    for (int k = 0; k < n; k++) {
        if (!s[k].label) continue;
        int ly = y + 16 + 16 * row++;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n", x + 6, ly - 4,
                x + 26, ly - 4, color_of(&s[k]));
        fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"/>\n", x + 16, ly - 4, color_of(&s[k]));
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">", x + 32, ly);
        xml_escape(f, s[k].label);
        fprintf(f, "</text>\n");
    }
}

void plot_series_fit(PlotSeries *s, const CurveFit *f)
{
    s->has_fit = 1;
    s->p = f->sig.p;
    s->fit_lo = f->x_min;
    s->fit_hi = f->x_max;
    s->boot = f->boot;
    s->n_boot = f->has_ci ? f->boot_ok : 0;
}

int plot_svg_write(FILE *f, const PlotSeries *s, int n, const char *xname, const char *title)
{
    Frame fr;
    if (!frame_compute(s, n, &fr)) return 0;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"Helvetica, Arial, sans-serif\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    draw_axes(f, &fr, xname, title);
    for (int k = 0; k < n; k++)
        if (s[k].has_fit && s[k].boot && s[k].n_boot > 0) draw_band(f, &fr, &s[k]);
    for (int k = 0; k < n; k++) {
        if (!s[k].has_fit) continue;
        double a = log10(s[k].fit_lo), b = log10(s[k].fit_hi);
        draw_curve_piece(f, &fr, &s[k], fr.lx0, a, 1);
        draw_curve_piece(f, &fr, &s[k], a, b, 0);
        draw_curve_piece(f, &fr, &s[k], b, fr.lx1, 1);
    }
    draw_ceilings(f, &fr, s, n);
    for (int k = 0; k < n; k++) draw_points(f, &fr, &s[k]);
    draw_legend(f, s, n);
    fprintf(f, "</svg>\n");
    return 1;
}

int plot_svg(const char *path, const PlotSeries *s, int n, const char *xname, const char *title, char *err)
{
    Frame fr;
    if (!frame_compute(s, n, &fr)) {
        snprintf(err, ERR_LEN, "nothing to plot: no eval point with %s > 0", xname);
        return 1;
    }
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    fprintf(af.f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    plot_svg_write(af.f, s, n, xname, title);
    return atomic_commit(&af, err);
}

void plot_text(FILE *f, const PlotSeries *s, int n, const char *xname, int width, int height)
{
    Frame fr;
    if (!frame_compute(s, n, &fr) || width < 10 || height < 4) return;
    char *grid = malloc((size_t)width * (size_t)height);
    if (!grid) return;
    memset(grid, ' ', (size_t)width * (size_t)height);
#define CELL_ROW(y) ((int)lround((fr.y1 - (y)) / (fr.y1 - fr.y0) * (height - 1)))
    for (int k = 0; k < n; k++) {
        if (!s[k].has_fit) continue;
        for (int c = 0; c < width; c++) {
            double x = pow(10, fr.lx0 + (fr.lx1 - fr.lx0) * (c + 0.5) / width);
            int r = CELL_ROW(sigmoid_at(&s[k].p, x));
            if (r >= 0 && r < height) grid[r * width + c] = x >= s[k].fit_lo && x <= s[k].fit_hi ? '-' : '.';
        }
    }
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < s[k].n; i++) {
            const EvalPoint *p = &s[k].pts[i];
            if (!(p->x > 0)) continue;
            int c = (int)((log10(p->x) - fr.lx0) / (fr.lx1 - fr.lx0) * width);
            int r = CELL_ROW(p->y);
            if (c >= 0 && c < width && r >= 0 && r < height) grid[r * width + c] = (char)('a' + s[k].color % 26);
        }
    }
#undef CELL_ROW
    for (int r = 0; r < height; r++) {
        double y = fr.y1 - (fr.y1 - fr.y0) * r / (height - 1);
        if (r == 0 || r == height - 1 || r == (height - 1) / 2) fprintf(f, "%6.2f |", y);
        else fprintf(f, "       |");
        fwrite(grid + r * width, 1, (size_t)width, f);
        fputc('\n', f);
    }
    free(grid);
    fprintf(f, "       +");
    for (int c = 0; c < width; c++) fputc('-', f);
    fprintf(f, "\n        1e%-*d1e%d\n", width - 4, (int)fr.lx0, (int)fr.lx1);
    fprintf(f, "        %s, log scale; '-' fitted curve, '.' extrapolated\n", xname);
    for (int k = 0; k < n; k++) {
        if (!s[k].label) continue;
        fprintf(f, "        %c  %s", 'a' + s[k].color % 26, s[k].label);
        if (s[k].has_fit) fprintf(f, "  (A=%.3f)", s[k].p.A);
        fputc('\n', f);
    }
}

/* ---- small multiples: one signal against compute ---- */

#define LC_W 300
#define LC_H 170
#define LC_LEFT 48
#define LC_RIGHT 10
#define LC_TOP 24
#define LC_BOTTOM 30
#define LC_PW (LC_W - LC_LEFT - LC_RIGHT)
#define LC_PH (LC_H - LC_TOP - LC_BOTTOM)
/* A line is drawn as means over this many bins of log x, so a chart of 7000 steps stays small. */
#define LC_BINS 150

/* A step of 1, 2 or 5 times a power of ten that cuts span into about `want` intervals. */
static double nice_step(double span, int want)
{
    double raw = span / want, mag = pow(10, floor(log10(raw)));
    double m = raw / mag;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * mag;
}

/* The series' points reduced to bin means over log x in [lx0, lx1]; returns how many. */
static int bin_means(const LineSeries *s, double lx0, double lx1, double *bx, double *by)
{
    int m = 0;
    if (s->n <= LC_BINS) {
        for (int i = 0; i < s->n; i++)
            if (s->x[i] > 0 && isfinite(s->x[i]) && isfinite(s->y[i])) {
                bx[m] = s->x[i];
                by[m++] = s->y[i];
            }
        return m;
    }
    int bin = -1, cnt = 0;
    double sx = 0, sy = 0;
    for (int i = 0; i <= s->n; i++) {
        int b = -2;
        if (i < s->n) {
            if (!(s->x[i] > 0) || !isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
            b = (int)((log10(s->x[i]) - lx0) / (lx1 - lx0) * LC_BINS);
            if (b >= LC_BINS) b = LC_BINS - 1;
        }
        if (b != bin && cnt) {
            bx[m] = sx / cnt;
            by[m++] = sy / cnt;
            sx = sy = 0;
            cnt = 0;
        }
        bin = b;
        if (i < s->n) {
            sx += s->x[i];
            sy += s->y[i];
            cnt++;
        }
    }
    return m;
}

int plot_lines_svg(FILE *f, const LineChart *c, const LineSeries *s, int n)
{
    if (!(c->x_lo > 0) || !(c->x_hi > c->x_lo)) return 0;
    double lx0 = log10(c->x_lo), lx1 = log10(c->x_hi);
    double **bx = calloc((size_t)(n > 0 ? n : 1), sizeof *bx), **by = calloc((size_t)(n > 0 ? n : 1), sizeof *by);
    int *bn = calloc((size_t)(n > 0 ? n : 1), sizeof *bn);
    int drawn = 0;
    double ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < n && bx && by && bn; k++) {
        size_t cap = (size_t)(s[k].n < LC_BINS ? s[k].n : LC_BINS) + 1;
        bx[k] = malloc(cap * sizeof(double));
        by[k] = malloc(cap * sizeof(double));
        if (!bx[k] || !by[k]) break;
        bn[k] = bin_means(&s[k], lx0, lx1, bx[k], by[k]);
        for (int i = 0; i < bn[k]; i++) {
            ymin = fmin(ymin, by[k][i]);
            ymax = fmax(ymax, by[k][i]);
        }
    }
    if (isfinite(ymin)) {
        if (ymax - ymin < 1e-12 * fmax(1, fabs(ymax))) { /* flat: a band around the value */
            double pad = ymax == 0 ? 1 : fabs(ymax) * 0.1;
            ymin -= pad;
            ymax += pad;
        }
        double step = nice_step(ymax - ymin, 3);
        double y0 = floor(ymin / step) * step, y1 = ceil(ymax / step) * step;
#define LCX(x) (LC_LEFT + (log10(x) - lx0) / (lx1 - lx0) * LC_PW)
#define LCY(y) (LC_TOP + (y1 - (y)) / (y1 - y0) * LC_PH)
        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"10\">\n"
                   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                LC_W, LC_H, LC_W, LC_H);
        fprintf(f, "<text x=\"%d\" y=\"14\" font-size=\"12\" font-weight=\"bold\">", LC_LEFT);
        xml_escape(f, c->title);
        fprintf(f, "</text>\n");
        for (double y = y0; y <= y1 + step * 1e-6; y += step) {
            double yy = fabs(y) < step * 1e-9 ? 0 : y;
            fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", LC_LEFT, LCY(yy),
                    LC_LEFT + LC_PW, LCY(yy));
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", LC_LEFT - 4, LCY(yy) + 3, yy);
        }
        for (int d = (int)ceil(lx0 - 1e-9); d <= (int)floor(lx1 + 1e-9); d++) {
            double x = LC_LEFT + (d - lx0) / (lx1 - lx0) * LC_PW;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>\n", x, LC_TOP, x,
                    LC_TOP + LC_PH);
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">1e%d</text>\n", x, LC_TOP + LC_PH + 12, d);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">", LC_LEFT + LC_PW / 2, LC_H - 4);
        xml_escape(f, c->xname);
        fprintf(f, " (log)</text>\n");
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", LC_LEFT,
                LC_TOP, LC_PW, LC_PH);
        for (int k = 0; k < n; k++) {
            if (bn[k] == 0) continue;
            const char *col = palette[(s[k].color % N_PALETTE + N_PALETTE) % N_PALETTE];
            if (s[k].markers || bn[k] == 1) {
                for (int i = 0; i < bn[k]; i++)
                    fprintf(f, "<circle class=\"data\" cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\"/>\n",
                            LCX(bx[k][i]), LCY(by[k][i]), col);
            } else {
                fprintf(f, "<path class=\"data\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"", col);
                for (int i = 0; i < bn[k]; i++) fprintf(f, "%c%.1f,%.1f", i ? 'L' : 'M', LCX(bx[k][i]), LCY(by[k][i]));
                fprintf(f, "\"/>\n");
            }
            drawn += bn[k];
        }
#undef LCX
#undef LCY
        fprintf(f, "</svg>\n");
    }
    for (int k = 0; k < n && bx && by; k++) {
        free(bx[k]);
        free(by[k]);
    }
    free(bx);
    free(by);
    free(bn);
    return drawn;
}
