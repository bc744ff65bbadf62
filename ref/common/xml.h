/* Text for XML and HTML pages (the SVG plots, `scalerl report`): any bytes in, well-formed
 * character data out. The five markup characters become entities; bytes that XML 1.0 does not
 * allow (control characters other than tab, newline and carriage return) and byte sequences that
 * are not UTF-8 (overlong forms, surrogates, code points past U+10FFFF, U+FFFE and U+FFFF) each
 * become U+FFFD, so a label or a sampled completion of any content leaves the page parseable. */
#ifndef SCALERL_XML_H
#define SCALERL_XML_H

#include <stdio.h>

/* Writes s, escaped, to f (as element text and in a double-quoted attribute alike). */
void xml_escape(FILE *f, const char *s);

#endif
