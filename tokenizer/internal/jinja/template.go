package jinja

import (
	"context"
	"fmt"
	"strings"
)

// Template is a compiled Jinja template ready for rendering.
type Template struct {
	nodes []node
	src   string
}

// Compile parses a Jinja template source string and returns a compiled
// template that can be rendered multiple times with different data.
func Compile(source string) (*Template, error) {
	if len(source) > MaxSourceBytes { // posttrain: bounds the parser's work and stack
		return nil, fmt.Errorf("%w: source of %d bytes, more than %d", ErrLimit, len(source), MaxSourceBytes)
	}
	segs, err := scan(source)
	if err != nil {
		return nil, fmt.Errorf("jinja scan: %w", err)
	}

	nodes, err := parseTemplate(segs)
	if err != nil {
		return nil, fmt.Errorf("jinja parse: %w", err)
	}

	return &Template{nodes: nodes, src: source}, nil
}

// Render executes the template with the provided data and returns the
// rendered string. Each call creates an isolated scope so templates are
// safe to render concurrently after compilation. posttrain: it renders under
// DefaultLimits.
func (t *Template) Render(data map[string]any) (string, error) {
	return t.RenderContext(context.Background(), data, Limits{})
}

// RenderContext renders under lim (zero fields take DefaultLimits) and stops
// when ctx is done. A limit reached is an error matching ErrLimit.
func (t *Template) RenderContext(ctx context.Context, data map[string]any, lim Limits) (string, error) {
	// Convert Go data to Value types.
	vals := make(map[string]Value, len(data))
	for k, v := range data {
		vals[k] = FromGoValue(v)
	}

	return render(t.nodes, vals, newBudget(ctx, lim))
}

// RenderValues is like Render but accepts pre-converted Value data.
func (t *Template) RenderValues(data map[string]Value) (string, error) {
	return render(t.nodes, data, newBudget(context.Background(), Limits{}))
}

// =============================================================================

// render executes the AST with the given data and returns the result.
func render(nodes []node, data map[string]Value, b *budget) (out string, err error) {
	// posttrain: a panic in the engine (an unforeseen input) is an error of
	// this render, not the end of the process.
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("jinja: internal error while rendering: %v", r)
		}
	}()
	e := evaluator{
		output: strings.Builder{},
		budget: b,
	}

	// Use the cached builtins scope directly. The scope is initialized
	// once at package init and is only read after that (lookupFilter,
	// chained get() through parent links, passed to nested evaluators).
	// No code path writes to e.builtins, so sharing the cached scope
	// across renders is safe and avoids cloning ~20 entries per render.
	e.builtins = cachedBuiltins

	// Create user data scope on top of builtins.
	e.scope = newScope(e.builtins)
	for k, v := range data {
		e.scope.set(k, v)
	}

	if err := e.execNodes(nodes); err != nil {
		return "", err
	}

	return e.output.String(), nil
}
