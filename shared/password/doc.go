// Package password holds everything Rekey does with passwords: argon2id
// hashing in the PHC string format (Hasher), the NIST SP 800-63B-4 policy
// check with a shipped blocklist of common passwords and context words
// (Check), and readable temporary passwords (Generate; GenerateFor gives
// young students words and digits they can type). It knows nothing of
// AWS or HTTP; sign-in, resets and bulk resets call it.
package password
