// OCR web page: pick / drop / paste an image, send it to POST /api/ocr, show lines and boxes.
// No build step, no dependencies. The API base URL comes from config.js or ?api=...
(function () {
  "use strict";

  const CONFIG = Object.assign({ apiBase: "", maxBytes: 10 * 1024 * 1024, lang: "zh" }, window.OCR_CONFIG || {});
  const params = new URLSearchParams(location.search);
  const API = (params.get("api") || CONFIG.apiBase || "").replace(/\/+$/, "");
  const TIMEOUT_MS = 180000;

  const STRINGS = {
    zh: {
      docTitle: "高精度文字识别 · OCR",
      title: "高精度文字识别",
      subtitle: "中英文 · 发票 · 票据 · 文档照片",
      imageHeading: "图片",
      change: "更换图片",
      dropTitle: "拖放图片到这里",
      dropSub: "或 点击选择文件 · 直接粘贴 (Ctrl+V)",
      pick: "选择图片",
      formats: (mb) => `支持 JPG、PNG、WebP、BMP、TIFF · 最大 ${mb} MB`,
      noPreview: "浏览器无法预览此格式，仍可识别",
      options: "识别选项",
      optDetect: "检测多行文字（关闭 = 整张图是一行文字）",
      optCls: "自动校正倒置的文字行 (0°/180°)",
      run: "开始高精度识别",
      running: "识别中…",
      uploading: "上传中…",
      resultsHeading: "识别结果",
      lines: (n) => `· ${n} 行`,
      serverTime: "处理时间",
      roundTrip: "往返",
      cached: "缓存",
      copyAll: "复制全部",
      exportTxt: "导出 TXT",
      exportJson: "导出 JSON",
      copy: "复制",
      copied: "已复制",
      copiedAll: (n) => `已复制 ${n} 行`,
      copyFailed: "复制失败，请手动选择文字",
      emptyText: "选择一张图片并点击“开始高精度识别”，识别出的文字会显示在这里。",
      noText: "没有识别到文字。可以换一张更清晰的图片，或在“识别选项”中调整设置。",
      footer: "PP-OCR 模型 · ONNX Runtime · CPU 推理",
      apiDocs: "API 文档",
      confidence: "置信度",
      notImage: "这不是图片文件",
      notImageMsg: (name) => `“${name}”不是图片。请选择 JPG、PNG、WebP、BMP 或 TIFF。`,
      errTitles: {
        0: "无法连接到服务器",
        400: "图片无法读取",
        404: "找不到上传的图片",
        413: "图片太大",
        415: "不支持的格式",
        422: "请求有误",
        501: "服务器未开启大图上传",
        503: "服务器繁忙",
        default: "识别失败",
      },
      networkMsg: "请检查网络或服务器地址后重试。",
      timeoutMsg: "等待时间过长，请稍后重试。",
      busyMsg: "当前请求较多，请稍后重试。",
      tooBigLocal: (mb) => `图片超过 ${mb} MB。请压缩或缩小后重试。`,
    },
    en: {
      docTitle: "Accurate OCR",
      title: "Accurate text recognition",
      subtitle: "Chinese & English · invoices · receipts · document photos",
      imageHeading: "Image",
      change: "Change image",
      dropTitle: "Drop an image here",
      dropSub: "or click to choose a file · paste with Ctrl+V",
      pick: "Choose image",
      formats: (mb) => `JPG, PNG, WebP, BMP, TIFF · up to ${mb} MB`,
      noPreview: "Your browser can't preview this format; it can still be recognised",
      options: "Options",
      optDetect: "Detect text lines (off = the whole image is one line)",
      optCls: "Fix upside-down lines (0°/180°)",
      run: "Start accurate recognition",
      running: "Recognising…",
      uploading: "Uploading…",
      resultsHeading: "Results",
      lines: (n) => `· ${n} ${n === 1 ? "line" : "lines"}`,
      serverTime: "Processing",
      roundTrip: "round trip",
      cached: "cached",
      copyAll: "Copy all",
      exportTxt: "Export TXT",
      exportJson: "Export JSON",
      copy: "Copy",
      copied: "Copied",
      copiedAll: (n) => `Copied ${n} ${n === 1 ? "line" : "lines"}`,
      copyFailed: "Copy failed; select the text by hand",
      emptyText: "Choose an image and press “Start accurate recognition”; its text appears here.",
      noText: "No text found. Try a sharper image, or change the options.",
      footer: "PP-OCR models · ONNX Runtime · CPU inference",
      apiDocs: "API docs",
      confidence: "confidence",
      notImage: "Not an image",
      notImageMsg: (name) => `“${name}” is not an image. Choose a JPG, PNG, WebP, BMP or TIFF file.`,
      errTitles: {
        0: "Can't reach the server",
        400: "The image can't be read",
        404: "Uploaded image not found",
        413: "Image too large",
        415: "Unsupported format",
        422: "Bad request",
        501: "Large uploads are not enabled",
        503: "Server busy",
        default: "Recognition failed",
      },
      networkMsg: "Check your connection or the server address and try again.",
      timeoutMsg: "This took too long; please try again.",
      busyMsg: "The server is busy; please try again in a moment.",
      tooBigLocal: (mb) => `The image is over ${mb} MB. Shrink it and try again.`,
    },
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    dropzone: $("dropzone"), fileInput: $("file-input"), pickBtn: $("pick-btn"), changeBtn: $("change-btn"),
    dropEmpty: $("drop-empty"), preview: $("preview"), stage: $("stage"), img: $("preview-img"),
    overlay: $("overlay"), noPreview: $("no-preview"), veil: $("busy-veil"), fileMeta: $("file-meta"),
    fileName: $("file-name"), runBtn: $("run-btn"), optDetect: $("opt-detect"), optCls: $("opt-cls"),
    lineCount: $("line-count"), stats: $("stats"), timeServer: $("time-server"), timeTotal: $("time-total"),
    error: $("error"), errorTitle: $("error-title"), errorMsg: $("error-msg"), actions: $("actions"),
    copyAll: $("copy-all"), exportTxt: $("export-txt"), exportJson: $("export-json"), empty: $("empty"),
    lines: $("lines"), toast: $("toast"), apiLink: $("api-link"),
  };

  let lang = pickLang();
  let file = null;
  let objectUrl = null;
  let result = null;
  let busy = false;
  let lastError = null;
  let toastTimer = 0;
  // Size limits: direct = sent in the request; max = largest accepted (through S3 when uploads are on).
  const limits = { direct: CONFIG.maxBytes, max: CONFIG.maxBytes, uploads: false, known: false };

  // ------------------------------------------------------------------ i18n

  function pickLang() {
    const q = params.get("lang");
    if (q === "zh" || q === "en") return q;
    try {
      const saved = localStorage.getItem("ocr.lang");
      if (saved === "zh" || saved === "en") return saved;
    } catch (_) { /* storage may be off */ }
    return CONFIG.lang === "en" ? "en" : "zh";
  }

  function t(key, ...args) {
    const v = STRINGS[lang][key];
    return typeof v === "function" ? v(...args) : v;
  }

  function applyLang() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("docTitle");
    document.querySelectorAll("[data-i18n]").forEach((node) => {
      const key = node.getAttribute("data-i18n");
      if (key in STRINGS[lang]) node.textContent = t(key);
    });
    document.querySelectorAll(".lang-btn").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
    document.querySelector('[data-i18n="formats"]').textContent = t("formats", toMB(limits.max));
    setBusy(busy);
    if (result) renderResult(result, false);
    if (lastError) showError(lastError);
  }

  document.querySelectorAll(".lang-btn").forEach((b) =>
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      try { localStorage.setItem("ocr.lang", lang); } catch (_) { /* ignore */ }
      applyLang();
    })
  );

  // ------------------------------------------------------------------ choosing an image

  const EXT_OK = /\.(jpe?g|png|webp|bmp|tiff?|jfif|mpo)$/i;

  function looksLikeImage(f) {
    if (f.type) return f.type.startsWith("image/");
    return EXT_OK.test(f.name || "");
  }

  function setFile(f) {
    if (!f) return;
    if (!looksLikeImage(f)) {
      showError({ status: 415, title: t("notImage"), message: t("notImageMsg", f.name || "?") });
      return;
    }
    file = f;
    result = null;
    clearError();
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(f);
    el.stage.classList.remove("placeholder");
    el.stage.style.aspectRatio = "";
    el.noPreview.hidden = true;
    el.img.hidden = false;
    el.img.src = objectUrl;
    el.img.alt = f.name || "image";
    el.overlay.innerHTML = "";
    el.dropEmpty.hidden = true;
    el.preview.hidden = false;
    el.dropzone.classList.add("has-image");
    el.fileMeta.hidden = false;
    el.fileName.textContent = `${f.name || "clipboard.png"} · ${formatBytes(f.size)}`;
    el.runBtn.disabled = false;
    renderEmpty();
  }

  el.img.addEventListener("error", () => {
    if (!file) return;
    el.img.hidden = true;
    el.stage.classList.add("placeholder");
    el.noPreview.hidden = false;
  });

  const openPicker = () => el.fileInput.click();
  el.pickBtn.addEventListener("click", (e) => { e.stopPropagation(); openPicker(); });
  el.changeBtn.addEventListener("click", openPicker);
  el.dropzone.addEventListener("click", () => { if (!file) openPicker(); });
  el.dropzone.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target === el.dropzone) { e.preventDefault(); openPicker(); }
  });
  el.fileInput.addEventListener("change", () => {
    if (el.fileInput.files && el.fileInput.files[0]) setFile(el.fileInput.files[0]);
    el.fileInput.value = "";
  });

  ["dragenter", "dragover"].forEach((type) =>
    el.dropzone.addEventListener(type, (e) => { e.preventDefault(); el.dropzone.classList.add("dragover"); })
  );
  ["dragleave", "dragend", "drop"].forEach((type) =>
    el.dropzone.addEventListener(type, () => el.dropzone.classList.remove("dragover"))
  );
  el.dropzone.addEventListener("drop", (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) setFile(f);
  });
  // Dropping outside the zone should not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  document.addEventListener("paste", (e) => {
    const items = (e.clipboardData && e.clipboardData.items) || [];
    for (const item of items) {
      if (item.kind === "file" && item.type.startsWith("image/")) {
        const blob = item.getAsFile();
        if (blob) {
          const ext = (item.type.split("/")[1] || "png").replace("jpeg", "jpg");
          setFile(blob.name ? blob : new File([blob], `pasted.${ext}`, { type: item.type }));
          e.preventDefault();
          return;
        }
      }
    }
  });

  // ------------------------------------------------------------------ calling the API

  async function callJson(url, init) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    let resp;
    try {
      resp = await fetch(url, Object.assign({ signal: ctrl.signal }, init));
    } catch (err) {
      const timedOut = err && err.name === "AbortError";
      throw { status: 0, message: timedOut ? t("timeoutMsg") : t("networkMsg") };
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try { body = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok || !body || body.success === false) {
      const e = (body && body.error) || {};
      throw {
        status: resp.status,
        code: e.code || `http_${resp.status}`,
        message: e.message || (resp.status === 503 ? t("busyMsg") : `HTTP ${resp.status}`),
        requestId: (body && body.request_id) || resp.headers.get("X-Request-ID"),
      };
    }
    return body;
  }

  async function uploadLarge(f) {
    const info = await callJson(`${API}/api/uploads`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ content_type: f.type || "application/octet-stream", filename: f.name || "" }),
    }).catch((err) => {
      if (err.status === 501) err.message = t("tooBigLocal", toMB(limits.direct));
      throw err;
    });
    const put = await fetch(info.upload_url, { method: "PUT", headers: info.headers || {}, body: f }).catch(() => null);
    if (!put || !put.ok) throw { status: put ? put.status : 0, message: t("networkMsg") };
    return info.s3_key;
  }

  async function run() {
    if (!file || busy) return;
    clearError();
    setBusy(true);
    const started = performance.now();
    const query = new URLSearchParams({ detect: String(el.optDetect.checked), cls: String(el.optCls.checked) });
    const url = `${API}/api/ocr?${query}`;
    try {
      let body;
      if (limits.known && file.size > limits.max) {
        throw { status: 413, code: "image_too_large", message: t("tooBigLocal", toMB(limits.max)) };
      }
      if (file.size > limits.direct && (limits.uploads || !limits.known)) {
        setBusy(true, t("uploading"));
        const key = await uploadLarge(file);
        setBusy(true);
        body = await callJson(url, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ s3_key: key }),
        });
      } else {
        const form = new FormData();
        form.append("image", file, file.name || "image.png");
        body = await callJson(url, { method: "POST", body: form });
      }
      body.roundTrip = (performance.now() - started) / 1000;
      body.fileName = file.name || "image";
      result = body;
      renderResult(body, true);
    } catch (err) {
      result = null;
      renderEmpty();
      showError(err);
    } finally {
      setBusy(false);
    }
  }
  el.runBtn.addEventListener("click", run);
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") run();
  });

  function setBusy(on, label) {
    busy = on;
    el.runBtn.classList.toggle("busy", on);
    el.runBtn.disabled = on || !file;
    el.runBtn.querySelector(".label").textContent = on ? label || t("running") : t("run");
    el.runBtn.setAttribute("aria-busy", String(on));
    el.veil.hidden = !on;
    document.body.classList.toggle("is-busy", on);
  }

  // ------------------------------------------------------------------ rendering

  function renderEmpty() {
    el.lines.innerHTML = "";
    el.overlay.innerHTML = "";
    el.empty.hidden = false;
    el.empty.firstElementChild.textContent = t("emptyText");
    el.actions.hidden = true;
    el.stats.hidden = true;
    el.lineCount.textContent = "";
  }

  function confClass(c) {
    return c >= 0.9 ? "" : c >= 0.7 ? "mid" : "low";
  }

  function renderResult(body, fresh) {
    const lines = body.text || [];
    el.lineCount.textContent = t("lines", lines.length);
    el.stats.hidden = false;
    el.timeServer.textContent = formatSeconds(body.processing_time) + (body.cached ? ` (${t("cached")})` : "");
    el.timeTotal.textContent = formatSeconds(body.roundTrip || 0);
    el.actions.hidden = lines.length === 0;
    el.empty.hidden = lines.length > 0;
    if (!lines.length) el.empty.firstElementChild.textContent = t("noText");

    // The image could not be previewed (e.g. TIFF): give the boxes a blank page of the right shape.
    if (el.img.hidden && body.width && body.height) el.stage.style.aspectRatio = `${body.width} / ${body.height}`;

    const NS = "http://www.w3.org/2000/svg";
    el.overlay.setAttribute("viewBox", `0 0 ${body.width} ${body.height}`);
    el.overlay.setAttribute("preserveAspectRatio", "none");
    el.overlay.innerHTML = "";
    el.lines.innerHTML = "";
    lines.forEach((line, i) => {
      const poly = document.createElementNS(NS, "polygon");
      poly.setAttribute("points", line.box.map((p) => p.join(",")).join(" "));
      poly.dataset.index = String(i);
      const title = document.createElementNS(NS, "title");
      title.textContent = line.text;
      poly.appendChild(title);
      el.overlay.appendChild(poly);

      const li = document.createElement("li");
      li.className = "line";
      li.dataset.index = String(i);
      const idx = document.createElement("span");
      idx.className = "idx";
      idx.textContent = String(i + 1);
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = line.text;
      const conf = document.createElement("span");
      conf.className = `conf ${confClass(line.confidence)}`;
      conf.textContent = `${(line.confidence * 100).toFixed(1)}%`;
      conf.title = `${t("confidence")} ${line.confidence}`;
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "copy-one";
      copy.textContent = t("copy");
      copy.setAttribute("aria-label", `${t("copy")}: ${line.text}`);
      copy.addEventListener("click", () => copyText(line.text, t("copied")));
      li.append(idx, text, conf, copy);
      el.lines.appendChild(li);

      const on = () => highlight(i, true);
      const off = () => highlight(i, false);
      li.addEventListener("mouseenter", on);
      li.addEventListener("mouseleave", off);
      li.addEventListener("focusin", on);
      li.addEventListener("focusout", off);
      poly.addEventListener("mouseenter", () => { on(); li.scrollIntoView({ block: "nearest", behavior: "smooth" }); });
      poly.addEventListener("mouseleave", off);
      poly.addEventListener("click", () => li.scrollIntoView({ block: "center", behavior: "smooth" }));
    });
    if (fresh && window.matchMedia("(max-width: 860px)").matches) {
      el.lines.closest(".panel").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }

  function highlight(i, on) {
    const li = el.lines.querySelector(`.line[data-index="${i}"]`);
    const poly = el.overlay.querySelector(`polygon[data-index="${i}"]`);
    if (li) li.classList.toggle("hi", on);
    if (poly) {
      poly.classList.toggle("hi", on);
      if (on) el.overlay.appendChild(poly); // draw on top of its neighbours
    }
  }

  function showError(err) {
    lastError = err;
    const titles = STRINGS[lang].errTitles;
    el.errorTitle.textContent = err.title || titles[err.status] || titles.default;
    let msg = err.message || "";
    if (err.code && err.status) msg += ` (${err.status} ${err.code})`;
    el.errorMsg.textContent = msg;
    el.error.hidden = false;
  }

  function clearError() {
    lastError = null;
    el.error.hidden = true;
  }

  // ------------------------------------------------------------------ copy and export

  function allText() {
    return ((result && result.text) || []).map((l) => l.text).join("\n");
  }

  async function copyText(text, message) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (_) { /* fall back below */ }
    if (!ok) {
      const ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
      ta.remove();
    }
    toast(ok ? message : t("copyFailed"));
  }

  function baseName() {
    const name = (result && result.fileName) || "ocr";
    return name.replace(/\.[^.]+$/, "") || "ocr";
  }

  function download(content, type, name) {
    const url = URL.createObjectURL(new Blob([content], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 2000);
  }

  el.copyAll.addEventListener("click", () => copyText(allText(), t("copiedAll", (result.text || []).length)));
  el.exportTxt.addEventListener("click", () => download(allText() + "\n", "text/plain;charset=utf-8", `${baseName()}.txt`));
  el.exportJson.addEventListener("click", () => {
    const { roundTrip, fileName, ...api } = result;
    download(JSON.stringify(api, null, 2), "application/json", `${baseName()}.json`);
  });

  function toast(message) {
    el.toast.textContent = message;
    el.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.toast.hidden = true; }, 1600);
  }

  // ------------------------------------------------------------------ helpers

  function toMB(n) {
    return Math.round((n / 1048576) * 10) / 10;
  }

  // Learn the server's limits (and whether large uploads go through S3); the page works without it.
  function loadLimits() {
    fetch(`${API}/healthz`, { cache: "no-store" })
      .then((r) => r.json())
      .then((h) => {
        if (typeof h.max_bytes === "number") limits.direct = Math.min(CONFIG.maxBytes, h.max_bytes);
        limits.uploads = Boolean(h.uploads);
        limits.known = typeof h.uploads === "boolean";
        limits.max = limits.uploads && h.upload_max_bytes ? Math.max(limits.direct, h.upload_max_bytes) : limits.direct;
        applyLang();
      })
      .catch(() => { /* keep config.js's numbers */ });
  }

  function formatSeconds(sec) {
    return sec < 1 ? `${Math.max(1, Math.round(sec * 1000))} ms` : `${sec.toFixed(2)} s`;
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1048576) return `${(n / 1024).toFixed(0)} KB`;
    return `${(n / 1048576).toFixed(1)} MB`;
  }

  if (API) el.apiLink.href = `${API}/docs`;
  applyLang();
  renderEmpty();
  loadLimits();
})();
