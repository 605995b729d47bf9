// afterbeep's pages work without this script; it adds: marking a message heard when it is
// played, new messages without reloading (server-sent events), recording in the browser.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

function markHeardOnPlay(root) {
  root.querySelectorAll("audio[data-id]").forEach((audio) => {
    audio.addEventListener("play", () => {
      const row = audio.closest("tr");
      if (!row || !row.classList.contains("unheard")) return;
      row.classList.remove("unheard");
      fetch(`/api/v1/messages/${audio.dataset.id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ heard: true }),
      });
    }, { once: true });
  });
}

function playing(root) {
  return [...root.querySelectorAll("audio")].some((a) => !a.paused);
}

function liveInbox() {
  const inbox = document.getElementById("inbox");
  if (!inbox || !window.EventSource) return;
  const source = new EventSource(`/api/v1/mailboxes/${inbox.dataset.mailbox}/events`);
  let pending = false;
  const refresh = async () => {
    // Never pull the list from under someone listening or typing a forward.
    if (playing(document) || document.activeElement?.closest("#messages form")) {
      pending = true;
      return;
    }
    pending = false;
    const response = await fetch(location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ["messages", "folders"]) {
      const fresh = page.getElementById(id);
      if (fresh) document.getElementById(id).replaceWith(fresh);
    }
    markHeardOnPlay(document);
    recorders(document);
  };
  source.addEventListener("changed", refresh);
  document.addEventListener("pause", () => pending && refresh(), true);
}

function recorders(root) {
  root.querySelectorAll(".recorder").forEach((box) => {
    const button = box.querySelector("button.record");
    if (!button || button.dataset.ready) return;
    button.dataset.ready = "1";
    const state = box.querySelector(".record-state");
    const form = box.closest("form");
    const input = button.dataset.target
      ? form.querySelector(`#${button.dataset.target}`)
      : box.querySelector('input[type="file"]');
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      button.hidden = true;
      return;
    }
    let recorder = null;
    button.addEventListener("click", async () => {
      if (recorder) {
        recorder.stop();
        return;
      }
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (err) {
        state.textContent = `No microphone: ${err.message}`;
        return;
      }
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = (e) => chunks.push(e.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        const blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        const files = new DataTransfer();
        files.items.add(new File([blob], "recording.webm", { type: blob.type }));
        input.files = files.files;
        state.textContent = `Recorded ${(blob.size / 1024).toFixed(0)} kB: ready to save.`;
        button.textContent = "Record again";
        recorder = null;
      };
      recorder.start();
      state.textContent = "Recording… press again to stop.";
      button.textContent = "Stop";
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  markHeardOnPlay(document);
  recorders(document);
  liveInbox();
});
