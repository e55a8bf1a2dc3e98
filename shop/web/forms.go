package web

import (
	"errors"
	"html/template"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/storefront-operator/storefront/shop/platform/apperr"
)

// form is a submitted form as the page shows it again: the values as typed, a message
// next to each invalid field, and a message about the whole form.
type form struct {
	Values map[string]string
	Errors map[string]string
	Error  string
}

func newForm() *form { return &form{Values: map[string]string{}, Errors: map[string]string{}} }

// read copies the named fields of the posted form, trimmed of surrounding spaces
// except for the fields in raw (passwords are taken as typed).
func (f *form) read(c *gin.Context, fields []string, raw ...string) *form {
	for _, name := range fields {
		v := c.PostForm(name)
		if !contains(raw, name) {
			v = strings.TrimSpace(v)
		}
		f.Values[name] = v
	}
	return f
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Invalid reports whether the form has errors.
func (f *form) Invalid() bool { return f.Error != "" || len(f.Errors) > 0 }

// fieldErrors puts a validation error's messages next to the fields: names maps the
// service's field names (JSON paths such as shipping_address.city) to the form's; a
// field the form does not show becomes the form's message. It reports whether err was
// a validation error.
func (f *form) fieldErrors(err error, names map[string]string) bool {
	var ve *apperr.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, fe := range ve.Errors {
		name, ok := names[fe.Field]
		if !ok {
			if _, shown := f.Values[fe.Field]; shown {
				name, ok = fe.Field, true
			}
		}
		msg := sentence(fe.Message)
		if !ok {
			f.Error = strings.TrimSpace(f.Error + " " + sentence(fe.Field+" "+fe.Message))
			continue
		}
		if _, dup := f.Errors[name]; !dup {
			f.Errors[name] = msg
		}
	}
	if f.Error == "" && len(f.Errors) > 0 {
		f.Error = "Please correct the fields marked below."
	}
	return true
}

// sentence turns a service message ("must be between 1 and 12") into one for people
// ("Must be between 1 and 12.").
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// fieldAttrs are the accessibility attributes of form field name: invalid and described
// by its error message (and its hint, when it has one).
func fieldAttrs(f *form, name string, hint bool) template.HTMLAttr {
	var ids []string
	invalid := f != nil && f.Errors[name] != ""
	if invalid {
		ids = append(ids, "f-"+name+"-error")
	}
	if hint {
		ids = append(ids, "f-"+name+"-hint")
	}
	var b strings.Builder
	if invalid {
		b.WriteString(` aria-invalid="true"`)
	}
	if len(ids) > 0 {
		// Names are the pages' own field names (letters and underscores), never input.
		b.WriteString(` aria-describedby="` + template.HTMLEscapeString(strings.Join(ids, " ")) + `"`)
	}
	return template.HTMLAttr(b.String()) //nolint:gosec // built from constant field names, escaped
}

// safeNext returns next when it is a path of this shop (so a login link cannot send the
// shopper to another site), else fallback.
func safeNext(next, fallback string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return fallback
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return fallback
	}
	return u.RequestURI()
}
