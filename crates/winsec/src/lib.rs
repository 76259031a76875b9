//! lakepass-winsec: the Windows security calls the engine's named pipe needs, and the only
//! `unsafe` code in Lakepass (every other crate forbids it).
//!
//! A named pipe made with tokio's safe API gets the default DACL (other users of the machine
//! may open it), and its client cannot tell whose process answers; the pipe's name is
//! predictable, so another user could create it first and collect requests or hand out forged
//! tokens. This crate gives the engine ([`create_owner_only`]) a pipe whose DACL grants the
//! current user alone, and the client ([`server_is_same_user`]) the check that the process
//! serving a pipe runs as the same user, before anything is sent. The first instance is made
//! with `FILE_FLAG_FIRST_PIPE_INSTANCE` by the caller (tokio's `first_pipe_instance`), so a
//! name another process already holds is an error, never a shared pipe.
//!
//! Sources: a pipe created without a security descriptor gets one that grants read access to
//! Everyone and the anonymous account, and a second server must pass the DACL's
//! `FILE_CREATE_PIPE_INSTANCE` check
//! (<https://learn.microsoft.com/en-us/windows/win32/ipc/named-pipe-security-and-access-rights>);
//! `GetNamedPipeServerProcessId` gives a client the server's process
//! (<https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-getnamedpipeserverprocessid>);
//! SDDL `D:P(A;;GA;;;<SID>)` is a protected DACL with one allow entry, generic all, for that SID
//! (<https://learn.microsoft.com/en-us/windows/win32/secauthz/security-descriptor-string-format>).
//!
//! Windows only; on other systems the crate is empty. Not yet exercised on Windows: it is
//! compile-checked for `x86_64-pc-windows-gnu`.
//!
//! What it may use: tokio and windows-sys. What may use it: the engine's `ipc/windows.rs`.

#![cfg(windows)]

use std::ffi::c_void;
use std::io;
use std::os::windows::io::AsRawHandle as _;
use std::ptr::null_mut;

use tokio::net::windows::named_pipe::{NamedPipeClient, NamedPipeServer, ServerOptions};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER,
    TokenUser,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeServerProcessId;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// Creates pipe instance `name` with `options` and a DACL that grants the current user full
/// access and nobody else anything (SDDL `D:P(A;;GA;;;<user SID>)`: protected, no inherited
/// entries).
pub fn create_owner_only(options: &ServerOptions, name: &str) -> io::Result<NamedPipeServer> {
    let descriptor = OwnerOnly::new()?;
    let mut attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.0,
        bInheritHandle: 0,
    };
    // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES whose descriptor (owned by
    // `descriptor`) outlives the call; CreateNamedPipeW copies what it needs.
    unsafe { options.create_with_security_attributes_raw(name, (&raw mut attributes).cast::<c_void>()) }
}

/// True when the process serving the pipe `pipe` (a client's end) runs as this process's
/// user. An error (the process is gone, or may not be queried) means: do not trust it.
pub fn server_is_same_user(pipe: &NamedPipeClient) -> io::Result<bool> {
    let mut pid = 0u32;
    // SAFETY: the handle is borrowed from a pipe that stays open for the call; `pid` is a
    // valid out pointer.
    if unsafe { GetNamedPipeServerProcessId(pipe.as_raw_handle(), &mut pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain call; the handle it returns is owned by `Handle` and closed on drop.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return Err(io::Error::last_os_error());
    }
    let process = Handle(process);
    let theirs = TokenUserInfo::of(process.0)?;
    // SAFETY: the pseudo-handle of the current process is always valid and needs no closing.
    let mine = TokenUserInfo::of(unsafe { GetCurrentProcess() })?;
    // SAFETY: both SIDs point into buffers that live until the end of this function.
    Ok(unsafe { EqualSid(theirs.sid(), mine.sid()) } != 0)
}

/// A handle closed on drop.
struct Handle(HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by us and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// A process token's `TOKEN_USER`: the buffer the SID points into (u64s, for alignment).
struct TokenUserInfo(Vec<u64>);

impl TokenUserInfo {
    /// The user of `process`'s token.
    fn of(process: HANDLE) -> io::Result<Self> {
        let mut token: HANDLE = null_mut();
        // SAFETY: `process` is a valid process handle; `token` is a valid out pointer.
        if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let token = Handle(token);
        let mut len = 0u32;
        // SAFETY: a size query: no buffer, `len` receives the size needed (the call "fails").
        unsafe { GetTokenInformation(token.0, TokenUser, null_mut(), 0, &mut len) };
        if (len as usize) < size_of::<TOKEN_USER>() {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u64; (len as usize).div_ceil(8)];
        // SAFETY: `buf` holds at least `len` bytes, aligned for TOKEN_USER.
        let ok = unsafe { GetTokenInformation(token.0, TokenUser, buf.as_mut_ptr().cast(), len, &mut len) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TokenUserInfo(buf))
    }

    /// The user's SID, pointing into this buffer.
    fn sid(&self) -> PSID {
        // SAFETY: the buffer holds a TOKEN_USER written by GetTokenInformation.
        unsafe { (*self.0.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }
}

/// A security descriptor made from SDDL, freed with `LocalFree` on drop.
struct OwnerOnly(PSECURITY_DESCRIPTOR);

impl OwnerOnly {
    /// Full access for the current user alone.
    fn new() -> io::Result<Self> {
        // SAFETY: the pseudo-handle of the current process is always valid.
        let me = TokenUserInfo::of(unsafe { GetCurrentProcess() })?;
        let mut text: *mut u16 = null_mut();
        // SAFETY: `me.sid()` is a valid SID; `text` receives a LocalAlloc'd string.
        if unsafe { ConvertSidToStringSidW(me.sid(), &mut text) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `text` is a NUL-terminated UTF-16 string from ConvertSidToStringSidW.
        let sid = unsafe { from_wide(text) };
        // SAFETY: `text` was allocated by ConvertSidToStringSidW and is freed once.
        unsafe { LocalFree(text.cast()) };
        let sddl: Vec<u16> = format!("D:P(A;;GA;;;{sid})").encode_utf16().chain([0]).collect();
        let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
        // SAFETY: `sddl` is NUL-terminated; `descriptor` receives a LocalAlloc'd descriptor.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnerOnly(descriptor))
    }
}

impl Drop for OwnerOnly {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
        unsafe { LocalFree(self.0) };
    }
}

/// A NUL-terminated UTF-16 string.
///
/// # Safety
/// `p` must point to a NUL-terminated UTF-16 string.
unsafe fn from_wide(p: *const u16) -> String {
    let mut len = 0;
    // SAFETY: the caller promises a terminating NUL, so every read is in bounds.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` elements were just read.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) })
}

#[cfg(test)]
mod tests {
    use tokio::net::windows::named_pipe::ClientOptions;

    use super::*;

    /// Runs on Windows only (not yet in any CI): the pipe is made, a second first instance of
    /// its name is refused, and its server is found to run as this user.
    #[tokio::test]
    async fn an_owner_only_pipe_is_served_by_this_user_and_its_name_is_not_shared() {
        let name = format!(r"\\.\pipe\lakepass-winsec-test-{}", std::process::id());
        let mut first = ServerOptions::new();
        first.first_pipe_instance(true);
        let _server = create_owner_only(&first, &name).expect("the first instance");
        assert!(create_owner_only(&first, &name).is_err(), "a name already held is not shared");
        let client = ClientOptions::new().open(&name).expect("the owner opens it");
        assert!(server_is_same_user(&client).expect("the server's user is known"));
    }
}
