// The Custos page: register a passkey, approve a withdrawal, or export a wallet key.
//
// The one-time page token is in the URL fragment (never sent to the server by the
// browser); every API call posts it to /p/api, which the pool relays to the signer.
// No third-party code: WebAuthn, X25519, HKDF (HMAC-SHA256), AES-GCM and Ed25519 all
// come from the browser. Text from the server is only ever set with textContent.
"use strict";

(() => {
  const API = "api";
  const $ = (id) => document.getElementById(id);

  // window.custosResult is what tests read; it mirrors what the page shows.
  const result = { state: "loading", message: "", publicKey: null, secretKey: null, matches: null };
  window.custosResult = result;

  function setState(state, message) {
    result.state = state;
    if (message !== undefined) {
      result.message = message;
      $("result").textContent = message;
    }
    document.body.dataset.state = state;
  }

  // ---- encodings -------------------------------------------------------------------

  function b64urlEncode(bytes) {
    let s = "";
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64urlDecode(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) {
      throw new Error("malformed base64url from the server");
    }
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

  // Bitcoin-alphabet base58, as Solana writes keys and addresses.
  function base58(bytes) {
    const digits = []; // little-endian base-58 digits of the number
    for (const byte of bytes) {
      let carry = byte;
      for (let i = 0; i < digits.length; i++) {
        carry += digits[i] * 256;
        digits[i] = carry % 58;
        carry = Math.floor(carry / 58);
      }
      while (carry > 0) {
        digits.push(carry % 58);
        carry = Math.floor(carry / 58);
      }
    }
    let out = "";
    for (const byte of bytes) {
      if (byte !== 0) break;
      out += "1"; // each leading zero byte is a "1"
    }
    for (let i = digits.length - 1; i >= 0; i--) out += B58[digits[i]];
    return out;
  }

  function base58Decode(text) {
    const bytes = []; // little-endian bytes of the number
    for (const ch of text) {
      let carry = B58.indexOf(ch);
      if (carry < 0) throw new Error("malformed base58 from the server");
      for (let i = 0; i < bytes.length; i++) {
        carry += bytes[i] * 58;
        bytes[i] = carry & 0xff;
        carry >>= 8;
      }
      while (carry > 0) {
        bytes.push(carry & 0xff);
        carry >>= 8;
      }
    }
    for (const ch of text) {
      if (ch !== "1") break;
      bytes.push(0);
    }
    return new Uint8Array(bytes.reverse());
  }

  function hexToBytes(hex) {
    if (typeof hex !== "string" || !/^([0-9a-f]{2})*$/i.test(hex)) {
      throw new Error("malformed hex from the server");
    }
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  function concat(...parts) {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  const ascii = (s) => new TextEncoder().encode(s);

  function i2osp(value, length) {
    const out = new Uint8Array(length);
    for (let i = length - 1; i >= 0; i--) {
      out[i] = value & 0xff;
      value >>>= 8;
    }
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  // ---- API -----------------------------------------------------------------------------

  async function call(body) {
    let response;
    try {
      response = await fetch(API, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (e) {
      throw new Error("Custos could not be reached. Check your connection and try again.");
    }
    let json;
    try {
      json = await response.json();
    } catch (e) {
      throw new Error(`Unexpected answer from Custos (HTTP ${response.status}).`);
    }
    if (!response.ok || json.ok === false) {
      throw new Error(typeof json.error === "string" ? json.error : `HTTP ${response.status}`);
    }
    return json;
  }

  // ---- WebAuthn: webauthn-rs JSON <-> browser objects -----------------------------------

  function creationOptions(json) {
    const pk = json && json.publicKey;
    if (!pk) throw new Error("the server sent no passkey registration options");
    const options = {
      rp: pk.rp,
      user: {
        id: b64urlDecode(pk.user.id),
        name: pk.user.name,
        displayName: pk.user.displayName,
      },
      challenge: b64urlDecode(pk.challenge),
      pubKeyCredParams: pk.pubKeyCredParams,
      excludeCredentials: (pk.excludeCredentials || []).map((c) => ({
        type: c.type,
        id: b64urlDecode(c.id),
        transports: c.transports,
      })),
    };
    for (const k of ["timeout", "authenticatorSelection", "attestation", "hints"]) {
      if (pk[k] !== undefined && pk[k] !== null) options[k] = pk[k];
    }
    return { publicKey: options };
  }

  function requestOptions(json) {
    const pk = json && json.publicKey;
    if (!pk) throw new Error("the server sent no passkey approval options");
    const options = {
      challenge: b64urlDecode(pk.challenge),
      allowCredentials: (pk.allowCredentials || []).map((c) => ({
        type: c.type,
        id: b64urlDecode(c.id),
        transports: c.transports,
      })),
    };
    for (const k of ["timeout", "rpId", "userVerification", "hints"]) {
      if (pk[k] !== undefined && pk[k] !== null) options[k] = pk[k];
    }
    return { publicKey: options };
  }

  function registrationJSON(cred) {
    return {
      id: cred.id,
      rawId: b64urlEncode(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: b64urlEncode(cred.response.attestationObject),
        clientDataJSON: b64urlEncode(cred.response.clientDataJSON),
      },
      extensions: {},
    };
  }

  function assertionJSON(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: b64urlEncode(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: b64urlEncode(r.authenticatorData),
        clientDataJSON: b64urlEncode(r.clientDataJSON),
        signature: b64urlEncode(r.signature),
        userHandle: r.userHandle ? b64urlEncode(r.userHandle) : null,
      },
      extensions: {},
    };
  }

  function passkeyError(e) {
    if (e && e.name === "NotAllowedError") {
      return new Error("The passkey request was cancelled or not allowed (timed out, or the device did not verify you).");
    }
    if (e && e.name === "InvalidStateError") {
      return new Error("This passkey is already registered.");
    }
    return new Error(`Passkey error: ${e && e.message ? e.message : e}`);
  }

  // ---- HPKE (RFC 9180) base mode open: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM

  const KEM_ID = 0x0020;
  const KDF_ID = 0x0001;
  const AEAD_ID = 0x0001;
  const EXPORT_PURPOSE = "custos/v1/export";

  async function hmac(key, data) {
    const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
  }

  // HKDF-Extract; an empty salt is HashLen zero bytes (RFC 5869), which is also what HMAC
  // does with an empty key, and WebCrypto refuses empty HMAC keys.
  const extract = (salt, ikm) => hmac(salt.length ? salt : new Uint8Array(32), ikm);

  async function expand(prk, info, length) {
    const out = new Uint8Array(length);
    let t = new Uint8Array(0);
    for (let i = 1, at = 0; at < length; i++) {
      t = await hmac(prk, concat(t, info, new Uint8Array([i])));
      out.set(t.subarray(0, Math.min(t.length, length - at)), at);
      at += t.length;
    }
    return out;
  }

  const labeledExtract = (suite, salt, label, ikm) =>
    extract(salt, concat(ascii("HPKE-v1"), suite, ascii(label), ikm));

  const labeledExpand = (suite, prk, label, info, length) =>
    expand(prk, concat(i2osp(length, 2), ascii("HPKE-v1"), suite, ascii(label), info), length);

  async function hpkeOpen(bundle, recipient, info, aad) {
    if (bundle.version !== 1) throw new Error(`unsupported export bundle version ${bundle.version}`);
    if (bundle.kem_id !== KEM_ID || bundle.kdf_id !== KDF_ID || bundle.aead_id !== AEAD_ID) {
      throw new Error("the export bundle uses an unsupported HPKE suite");
    }
    const enc = b64urlDecode(bundle.enc);
    const ct = b64urlDecode(bundle.ciphertext);
    if (enc.length !== 32) throw new Error("malformed export bundle");

    // DHKEM Decap.
    const kemSuite = concat(ascii("KEM"), i2osp(KEM_ID, 2));
    const pkE = await crypto.subtle.importKey("raw", enc, { name: "X25519" }, false, []);
    // deriveBits refuses an all-zero shared secret (a low-order enc), as RFC 9180 requires.
    const dh = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pkE }, recipient.privateKey, 256));
    const kemContext = concat(enc, recipient.publicRaw);
    const eaePrk = await labeledExtract(kemSuite, new Uint8Array(0), "eae_prk", dh);
    const shared = await labeledExpand(kemSuite, eaePrk, "shared_secret", kemContext, 32);
    dh.fill(0);

    // Key schedule, mode_base, no PSK.
    const suite = concat(ascii("HPKE"), i2osp(KEM_ID, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2));
    const empty = new Uint8Array(0);
    const pskIdHash = await labeledExtract(suite, empty, "psk_id_hash", empty);
    const infoHash = await labeledExtract(suite, empty, "info_hash", info);
    const context = concat(new Uint8Array([0]), pskIdHash, infoHash);
    const secret = await labeledExtract(suite, shared, "secret", empty);
    shared.fill(0);
    const keyBytes = await labeledExpand(suite, secret, "key", context, 16);
    const nonce = await labeledExpand(suite, secret, "base_nonce", context, 12);
    secret.fill(0);

    // Sequence number 0: the nonce is the base nonce.
    const key = await crypto.subtle.importKey("raw", keyBytes, { name: "AES-GCM" }, false, ["decrypt"]);
    keyBytes.fill(0);
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, key, ct));
    } catch (e) {
      throw new Error("The export could not be decrypted: it was not made for this page, this wallet and this confirmation.");
    }
  }

  async function ed25519PublicKey(seed) {
    const pkcs8 = concat(hexToBytes("302e020100300506032b657004220420"), seed);
    try {
      const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
      const jwk = await crypto.subtle.exportKey("jwk", key);
      return b64urlDecode(jwk.x);
    } finally {
      pkcs8.fill(0);
    }
  }

  // ---- the page ---------------------------------------------------------------------------

  let token = null;
  let info = null;
  let recipient = null;
  let secretBytes = null;

  function show(id, on) {
    $(id).hidden = !on;
  }

  function usesCode() {
    const code = $("totp").value.trim();
    return info.totp && (!info.passkey || code.length > 0);
  }

  function label() {
    if (info.kind === "register") return "Register passkey";
    if (info.kind === "export") return "Export key";
    return usesCode() ? "Approve with code" : "Approve with passkey";
  }

  function startCountdown(seconds) {
    if (typeof seconds !== "number" || seconds <= 0) return;
    const end = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      $("expiry").textContent = left > 0
        ? `This link expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}.`
        : "This link has expired.";
      if (left > 0 && result.state !== "done") setTimeout(tick, 1000);
    };
    tick();
  }

  function render() {
    document.title = `Custos: ${info.title}`;
    $("title").textContent = info.title;
    $("text").textContent = info.text;
    const hasWallet = typeof info.wallet === "string" && info.wallet.length > 0;
    const hasConfirmation = typeof info.confirmation_id === "string" && info.confirmation_id.length > 0;
    show("facts", hasWallet || hasConfirmation);
    for (const [id, on] of [["wallet", hasWallet], ["confirmation", hasConfirmation]]) {
      show(id, on);
      show(`${id}-label`, on);
    }
    if (hasWallet) $("wallet").textContent = info.wallet;
    if (hasConfirmation) $("confirmation").textContent = info.confirmation_id;
    const totp = info.kind !== "register" && info.totp === true;
    show("totp", totp);
    show("totp-label", totp);
    if (totp && info.passkey) $("totp-label").textContent = "Or enter the code from your authenticator app";
    $("go").textContent = label();
    show("controls", true);
    startCountdown(info.expires_in_secs);
  }

  async function submit() {
    const body = { token, step: "submit" };
    if (info.kind === "export") {
      // The one-time key pair; its private half never leaves WebCrypto.
      const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
      recipient = {
        privateKey: pair.privateKey,
        publicRaw: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
      };
      body.recipient = b64urlEncode(recipient.publicRaw);
    }
    if (info.kind === "register") {
      let cred;
      try {
        cred = await navigator.credentials.create(creationOptions(info.passkey));
      } catch (e) {
        throw passkeyError(e);
      }
      body.credential = registrationJSON(cred);
    } else if (usesCode()) {
      const code = $("totp").value.trim();
      if (!/^[0-9]{6}$/.test(code)) throw new Error("Enter the 6-digit code from your authenticator app.");
      body.totp = code;
    } else if (info.passkey) {
      let cred;
      try {
        cred = await navigator.credentials.get(requestOptions(info.passkey));
      } catch (e) {
        throw passkeyError(e);
      }
      body.assertion = assertionJSON(cred);
    } else {
      throw new Error("No way to approve is available for this request.");
    }
    const answer = await call(body);
    if (info.kind === "export") await openExport(answer.bundle);
    return typeof answer.message === "string" ? answer.message : "Done.";
  }

  async function openExport(bundle) {
    if (!bundle || typeof bundle !== "object") throw new Error("Custos sent no export bundle.");
    if (typeof info.wallet !== "string" || typeof info.confirmation_id !== "string") {
      throw new Error("The export request names no wallet or confirmation.");
    }
    // Built from what this page asked to export, never from the bundle.
    const wallet = base58Decode(info.wallet);
    const confirmation = hexToBytes(info.confirmation_id);
    if (wallet.length !== 32 || confirmation.length !== 16) throw new Error("malformed wallet or confirmation id");
    const hpkeInfo = concat(ascii(EXPORT_PURPOSE), wallet, confirmation);
    const seed = await hpkeOpen(bundle, recipient, hpkeInfo, wallet);
    recipient = null; // one-time key: never used again
    if (seed.length !== 32) {
      seed.fill(0);
      throw new Error("The export does not hold a 32-byte key.");
    }
    const publicKey = await ed25519PublicKey(seed);
    secretBytes = concat(seed, publicKey);
    seed.fill(0);
    const matches = equalBytes(publicKey, wallet);
    result.matches = matches;
    result.publicKey = base58(publicKey);
    result.secretKey = base58(secretBytes);
    $("public-key").textContent = result.publicKey;
    $("secret-key").textContent = result.secretKey;
    $("match").textContent = matches
      ? "matches wallet"
      : "MISMATCH: this key is NOT the key of the wallet above. Do not use it; report this.";
    $("match").classList.toggle("mismatch", !matches);
    show("export", true);
    if (!matches) throw new Error("The exported key does not match the wallet.");
  }

  function hide() {
    if (secretBytes) secretBytes.fill(0);
    secretBytes = null;
    result.secretKey = null;
    $("secret-key").textContent = "";
    $("hide").disabled = true;
    $("hide").textContent = "Key hidden";
  }

  async function onGo(event) {
    event.preventDefault();
    if (result.state === "working" || result.state === "done") return;
    $("go").disabled = true;
    setState("working", "Working\u2026");
    try {
      const message = await submit();
      show("controls", false);
      setState("done", message);
    } catch (e) {
      $("go").disabled = false;
      setState("error", e && e.message ? e.message : String(e));
    }
  }

  async function load() {
    token = decodeURIComponent(location.hash.slice(1));
    if (!token) {
      setState("error", "This link has no token. Open it from the button in Telegram.");
      return;
    }
    $("controls").addEventListener("submit", onGo);
    $("totp").addEventListener("input", () => {
      $("go").textContent = label();
    });
    $("hide").addEventListener("click", hide);
    try {
      info = await call({ token, step: "info" });
      render();
      setState("ready", "");
    } catch (e) {
      $("title").textContent = "Cannot continue";
      setState("error", e && e.message ? e.message : String(e));
    }
  }

  load();
})();
