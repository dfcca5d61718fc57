// Package csvcell makes CSV cells safe to open in a spreadsheet, for every
// CSV Rekey exports (a task's results, a school's parent codes):
// SECURITY.md 30.
package csvcell

import "strings"

// Safe neutralises a cell a spreadsheet would run as a formula: one
// starting with = + - @, a tab, a carriage return or NUL gets a leading
// single quote (OWASP CSV injection).
func Safe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r\x00", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}
