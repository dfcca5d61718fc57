// School grades, for the Users filter, the record editor and the bulk
// reset narrowing: one list, so the three offer the same choices.

/** GRADES in school order; the Users filter adds a grade from the URL if missing. */
export const GRADES = ['K', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
