package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kwid-dev/kwid/internal/checks"
)

// SARIF 2.1.0, as GitHub code scanning reads it.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
	// OriginalURIBaseIDs is not needed: locations are relative to where kwid ran.
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string             `json:"id"`
	Name                 string             `json:"name"`
	ShortDescription     sarifText          `json:"shortDescription"`
	FullDescription      sarifText          `json:"fullDescription"`
	Help                 sarifText          `json:"help"`
	DefaultConfiguration sarifRuleConfig    `json:"defaultConfiguration"`
	Properties           sarifRuleProperies `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifRuleProperies struct {
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s checks.Severity) string {
	switch {
	case s >= checks.High:
		return "error"
	case s == checks.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's numeric severity (critical >= 9, high >= 7, medium >= 4).
func securitySeverity(s checks.Severity) string {
	return [...]string{"0.0", "3.0", "5.5", "8.0", "9.5"}[s]
}

// ruleName turns a title into SARIF's PascalCase rule name.
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// WriteSARIF renders findings as SARIF 2.1.0: one rule per check of the catalog, one result
// per finding, located in the manifest file and line for file input and by object name
// otherwise.
func WriteSARIF(w io.Writer, s *Scan, catalog []*checks.Check, version string) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{
		Name: "kwid", InformationURI: "https://github.com/kwid-dev/kwid", Version: version, Rules: []sarifRule{},
	}}, Results: []sarifResult{}}
	index := map[string]int{}
	addRule := func(id, title, summary string, sev checks.Severity, refs []string) {
		if _, ok := index[id]; ok {
			return
		}
		index[id] = len(run.Tool.Driver.Rules)
		help := summary
		md := summary
		if len(refs) > 0 {
			help += "\nReferences: " + strings.Join(refs, "; ")
			md += "\n\n**References:** " + strings.Join(refs, "; ")
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: id, Name: ruleName(title),
			ShortDescription:     sarifText{Text: title},
			FullDescription:      sarifText{Text: summary},
			Help:                 sarifText{Text: help, Markdown: md},
			DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(sev)},
			Properties:           sarifRuleProperies{Tags: []string{"security", "kubernetes", "workload-identity"}, SecuritySeverity: securitySeverity(sev)},
		})
	}
	for _, c := range catalog {
		addRule(c.ID, c.Title, c.Summary, c.Severity, c.Refs)
	}
	for _, f := range s.Findings {
		addRule(f.Check, f.Title, f.Title, f.Severity, f.References)
		text := f.Message
		if f.Remediation != "" {
			text += "\nFix: " + f.Remediation
		}
		loc := sarifLocation{LogicalLocations: []sarifLogical{{
			Name: f.Object.Name, FullyQualifiedName: f.Object.String(), Kind: "resource",
		}}}
		if f.Location != nil {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: strings.TrimPrefix(f.Location.File, "./")}}
			if f.Location.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Location.Line}
			}
		}
		sum := sha256.Sum256([]byte(f.Check + "\x00" + f.Object.String() + "\x00" + f.Message))
		run.Results = append(run.Results, sarifResult{
			RuleID: f.Check, RuleIndex: index[f.Check], Level: sarifLevel(f.Severity),
			Message:             sarifText{Text: text},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{"kwid/v1": hex.EncodeToString(sum[:16])},
			Properties:          map[string]any{"severity": f.Severity.String(), "evidence": f.Evidence},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}); err != nil {
		return fmt.Errorf("writing SARIF: %w", err)
	}
	return nil
}
