//! TPM 2.0 response codes, decoded into the names of the TPM specification (Part 2, 6.6).
//!
//! A response code packs a base error with the handle, parameter or session it refers to;
//! [`ResponseCode`] splits the two so callers can match on the base error
//! (e.g. [`Rc::PolicyFail`]) wherever it was raised.

use core::fmt;

/// Where a format-one error points: the command's n-th handle, parameter or session (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RcLocation {
    /// The n-th handle of the command.
    Handle(u8),
    /// The n-th parameter of the command.
    Parameter(u8),
    /// The n-th session of the command's authorization area.
    Session(u8),
}

macro_rules! rc_table {
    ($($variant:ident = $value:literal, $name:literal, $doc:literal;)*) => {
        /// A base TPM 2.0 error or warning, without its location.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Rc {
            $(#[doc = $doc] $variant,)*
            /// A code this crate has no name for (the base value, location bits removed).
            Other(u16),
        }

        impl Rc {
            fn from_base(base: u16) -> Self {
                match base {
                    $($value => Rc::$variant,)*
                    other => Rc::Other(other),
                }
            }

            /// The specification's name, e.g. `TPM_RC_POLICY_FAIL`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Rc::$variant => $name,)*
                    Rc::Other(_) => "TPM_RC_(unknown)",
                }
            }
        }
    };
}

// The codes a sealing client meets; anything else still prints its hex value.
rc_table! {
    Initialize = 0x100, "TPM_RC_INITIALIZE", "TPM2_Startup has not run (or ran twice).";
    Failure = 0x101, "TPM_RC_FAILURE", "The TPM is in failure mode.";
    Sequence = 0x103, "TPM_RC_SEQUENCE", "Improper use of a sequence handle.";
    Disabled = 0x120, "TPM_RC_DISABLED", "The command is disabled.";
    AuthType = 0x124, "TPM_RC_AUTH_TYPE", "The authorization session is of the wrong type.";
    AuthMissing = 0x125, "TPM_RC_AUTH_MISSING", "An authorization session is missing.";
    Policy = 0x126, "TPM_RC_POLICY", "The policy session's state does not allow this.";
    Pcr = 0x127, "TPM_RC_PCR", "The PCR check failed.";
    PcrChanged = 0x128, "TPM_RC_PCR_CHANGED", "PCRs changed since the policy session checked them.";
    TooManyContexts = 0x12E, "TPM_RC_TOO_MANY_CONTEXTS", "No more context slots.";
    AuthUnavailable = 0x12F, "TPM_RC_AUTH_UNAVAILABLE", "The object's authValue or authPolicy is not available.";
    Reboot = 0x130, "TPM_RC_REBOOT", "The TPM needs a reset (_TPM_Init).";
    CommandSize = 0x142, "TPM_RC_COMMAND_SIZE", "The command's size field is wrong.";
    CommandCode = 0x143, "TPM_RC_COMMAND_CODE", "The command code is not supported.";
    NvUninitialized = 0x14A, "TPM_RC_NV_UNINITIALIZED", "The NV index was never written.";
    NvDefined = 0x14C, "TPM_RC_NV_DEFINED", "The NV index is already defined.";
    Sensitive = 0x155, "TPM_RC_SENSITIVE", "The sensitive area did not unmarshal correctly.";
    Asymmetric = 0x081, "TPM_RC_ASYMMETRIC", "Asymmetric algorithm not supported or not correct.";
    Attributes = 0x082, "TPM_RC_ATTRIBUTES", "Inconsistent attributes.";
    Hash = 0x083, "TPM_RC_HASH", "Hash algorithm not supported or not appropriate.";
    Value = 0x084, "TPM_RC_VALUE", "A value is out of range or not correct for the context.";
    Hierarchy = 0x085, "TPM_RC_HIERARCHY", "The hierarchy is not enabled or not correct for use.";
    KeySize = 0x087, "TPM_RC_KEY_SIZE", "The key size is not supported.";
    Type = 0x08A, "TPM_RC_TYPE", "The type of the value is not appropriate for the use.";
    Handle = 0x08B, "TPM_RC_HANDLE", "The handle is not correct for the use.";
    Range = 0x08D, "TPM_RC_RANGE", "A value was out of the allowed range.";
    AuthFail = 0x08E, "TPM_RC_AUTH_FAIL", "The authorization HMAC check failed.";
    Nonce = 0x08F, "TPM_RC_NONCE", "Invalid nonce size or nonce value mismatch.";
    Scheme = 0x092, "TPM_RC_SCHEME", "Unsupported or incompatible scheme.";
    Size = 0x095, "TPM_RC_SIZE", "A structure is the wrong size.";
    Symmetric = 0x096, "TPM_RC_SYMMETRIC", "Unsupported symmetric algorithm or key size.";
    Tag = 0x097, "TPM_RC_TAG", "Incorrect structure tag.";
    Selector = 0x098, "TPM_RC_SELECTOR", "A union selector is incorrect.";
    Insufficient = 0x09A, "TPM_RC_INSUFFICIENT", "The TPM ran out of input while unmarshalling.";
    Signature = 0x09B, "TPM_RC_SIGNATURE", "The signature is not valid.";
    Key = 0x09C, "TPM_RC_KEY", "The key fields are not compatible with the selected use.";
    PolicyFail = 0x09D, "TPM_RC_POLICY_FAIL", "The policy digest does not match the object's authPolicy.";
    Integrity = 0x09F, "TPM_RC_INTEGRITY", "The integrity check of a loaded blob failed.";
    Ticket = 0x0A0, "TPM_RC_TICKET", "Invalid ticket.";
    BadAuth = 0x0A2, "TPM_RC_BAD_AUTH", "Authorization failure without DA implications.";
    Expired = 0x0A3, "TPM_RC_EXPIRED", "The policy has expired.";
    PolicyCc = 0x0A4, "TPM_RC_POLICY_CC", "The command code in the policy is not the command being run.";
    Curve = 0x0A6, "TPM_RC_CURVE", "The curve is not supported.";
    ObjectMemory = 0x902, "TPM_RC_OBJECT_MEMORY", "Out of memory for object contexts.";
    SessionMemory = 0x903, "TPM_RC_SESSION_MEMORY", "Out of memory for session contexts.";
    Memory = 0x904, "TPM_RC_MEMORY", "Out of shared object or session memory.";
    SessionHandles = 0x905, "TPM_RC_SESSION_HANDLES", "Out of session handles.";
    ObjectHandles = 0x906, "TPM_RC_OBJECT_HANDLES", "Out of object handles.";
    Locality = 0x907, "TPM_RC_LOCALITY", "Bad locality.";
    Yielded = 0x908, "TPM_RC_YIELDED", "The TPM suspended the command; retry it.";
    Canceled = 0x909, "TPM_RC_CANCELED", "The command was canceled.";
    Testing = 0x90A, "TPM_RC_TESTING", "The TPM is self-testing.";
    ReferenceH0 = 0x910, "TPM_RC_REFERENCE_H0", "The first handle names an object or session that is not loaded.";
    ReferenceS0 = 0x918, "TPM_RC_REFERENCE_S0", "The first session handle names a session that is not loaded.";
    NvRate = 0x920, "TPM_RC_NV_RATE", "NV writes are rate-limited; retry later.";
    Lockout = 0x921, "TPM_RC_LOCKOUT", "The TPM is in dictionary-attack lockout.";
    Retry = 0x922, "TPM_RC_RETRY", "The TPM was not able to start the command; retry it.";
    NvUnavailable = 0x923, "TPM_RC_NV_UNAVAILABLE", "NV is not available.";
}

/// A non-success TPM response code: its base error and, for format-one errors, where it points.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ResponseCode {
    raw: u32,
}

impl ResponseCode {
    /// Wraps a raw response code (any value but 0, which is success).
    pub fn new(raw: u32) -> Self {
        Self { raw }
    }

    /// The raw 32-bit value the TPM returned.
    pub fn raw(self) -> u32 {
        self.raw
    }

    fn is_format_one(self) -> bool {
        self.raw & 0x080 != 0
    }

    /// The base error, with the location bits removed.
    pub fn rc(self) -> Rc {
        let base = if self.is_format_one() {
            0x080 | (self.raw & 0x03F)
        } else {
            self.raw & 0xFFF
        };
        Rc::from_base(base as u16)
    }

    /// The handle, parameter or session a format-one error refers to, if any.
    pub fn location(self) -> Option<RcLocation> {
        if !self.is_format_one() {
            return None;
        }
        let n = ((self.raw >> 8) & 0xF) as u8;
        if self.raw & 0x040 != 0 {
            Some(RcLocation::Parameter(n))
        } else if n & 0x8 != 0 {
            Some(RcLocation::Session(n & 0x7))
        } else if n != 0 {
            Some(RcLocation::Handle(n))
        } else {
            None
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#x}", self.rc().name(), self.raw)?;
        match self.location() {
            Some(RcLocation::Handle(n)) => write!(f, ", handle {n}")?,
            Some(RcLocation::Parameter(n)) => write!(f, ", parameter {n}")?,
            Some(RcLocation::Session(n)) => write!(f, ", session {n}")?,
            None => {}
        }
        f.write_str(")")
    }
}

impl fmt::Debug for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_fail_in_session_one() {
        let rc = ResponseCode::new(0x99d);
        assert_eq!(rc.rc(), Rc::PolicyFail);
        assert_eq!(rc.location(), Some(RcLocation::Session(1)));
        assert_eq!(rc.to_string(), "TPM_RC_POLICY_FAIL (0x99d, session 1)");
    }

    #[test]
    fn format_zero_and_warnings() {
        assert_eq!(ResponseCode::new(0x100).rc(), Rc::Initialize);
        assert_eq!(ResponseCode::new(0x100).location(), None);
        assert_eq!(ResponseCode::new(0x921).rc(), Rc::Lockout);
        assert_eq!(ResponseCode::new(0x1ff).rc(), Rc::Other(0x0bf));
    }

    #[test]
    fn handle_and_parameter_locations() {
        // TPM_RC_HANDLE on handle 1; TPM_RC_VALUE on parameter 1; TPM_RC_AUTH_FAIL session 1.
        let handle = ResponseCode::new(0x18b);
        assert_eq!(
            (handle.rc(), handle.location()),
            (Rc::Handle, Some(RcLocation::Handle(1)))
        );
        let value = ResponseCode::new(0x1c4);
        assert_eq!(
            (value.rc(), value.location()),
            (Rc::Value, Some(RcLocation::Parameter(1)))
        );
        let auth = ResponseCode::new(0x98e);
        assert_eq!(
            (auth.rc(), auth.location()),
            (Rc::AuthFail, Some(RcLocation::Session(1)))
        );
    }
}
