/* A little JavaScript of our own. Every page works without it (plain forms and server
   round trips); this only saves round trips: dialogs open in place, the unit's persons move
   between the panes with the amount updated live, report rows are added and removed. */
(function () {
  "use strict";

  function all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function say(root, text) {
    // Shows a message in the page's live region (screen readers announce it).
    var box = (root && root.querySelector("[data-live-message]")) || document.querySelector("[data-live-message]");
    if (!box) { window.alert(text); return; }
    box.textContent = text;
    box.className = "alert alert-error";
    box.setAttribute("role", "alert");
    box.scrollIntoView({ block: "nearest" });
  }

  function formOf(button) {
    return button.form || (button.getAttribute("form") && document.getElementById(button.getAttribute("form"))) || button.closest("form");
  }

  function checkedIn(form, name) {
    return all('input[type=checkbox][name="' + name + '"]:checked', form);
  }

  function fen(yuan) {
    var m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(yuan || "").trim());
    if (!m) { return 0; }
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }

  function yuan(f) {
    var cents = String(f % 100);
    return Math.floor(f / 100) + "." + (cents.length < 2 ? "0" + cents : cents);
  }

  /* ---------------------------------------------------------------- tables: 全选 */
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-check-all]")) {
      var table = box.closest("table");
      all("tbody input[type=checkbox]", table).forEach(function (cb) {
        if (!cb.disabled) { cb.checked = box.checked; }
        cb.dispatchEvent(new Event("change", { bubbles: true }));
      });
    }
  });

  /* ---------------------------------------------------------------- buttons */
  function openDialog(button, event) {
    var dialog = document.getElementById(button.getAttribute("data-open-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") { return; } // the server shows it instead
    var form = formOf(button);
    var name = button.getAttribute("data-require-checked");
    var picked = [];
    if (button.hasAttribute("data-payment")) {
      // A card's own button (phone): the dialog is for that one payment.
      name = "payment_ids";
      picked = [{ value: button.getAttribute("data-payment"), amount: button.getAttribute("data-amount") }];
    } else if (name && form) {
      var boxes = checkedIn(form, name);
      var refused = boxes.filter(function (b) { return b.getAttribute("data-refundable") === "0"; });
      if (refused.length) {
        event.preventDefault();
        say(form.parentNode, refused[0].getAttribute("data-reason") || "所选记录不能申请退费");
        return;
      }
      picked = boxes.map(function (b) { return { value: b.value, amount: b.getAttribute("data-amount") }; });
    }
    event.preventDefault();
    var holder = dialog.querySelector("[data-selected-ids]");
    if (holder && name) {
      holder.textContent = "";
      var total = 0;
      picked.forEach(function (p) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = p.value;
        holder.appendChild(input);
        total += fen(p.amount);
      });
      var summary = dialog.querySelector("[data-selected-summary]");
      if (summary) {
        summary.textContent = button.hasAttribute("data-payment")
          ? "退费金额 " + yuan(total) + " 元"
          : "已选择 " + picked.length + " 条缴费记录" + (total ? "，合计 " + yuan(total) + " 元" : "") + "。";
      }
    }
    if (dialog.open) { dialog.close(); }
    dialog.showModal();
    var first = dialog.querySelector("[aria-invalid=true]") || dialog.querySelector("select, input:not([type=hidden]), textarea");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) { return; }

    var close = target.closest("[data-close-dialog]");
    if (close) {
      var dlg = close.closest("dialog");
      if (dlg) { event.preventDefault(); dlg.close(); }
      return;
    }

    var button = target.closest("button, a");
    if (!button) { return; }

    var need = button.getAttribute("data-require-checked");
    if (need) {
      var form = formOf(button);
      if (form && checkedIn(form, need).length === 0) {
        event.preventDefault();
        say(form.parentNode, button.getAttribute("data-none-message") || "请先勾选需要操作的记录");
        return;
      }
    }
    var question = button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (button.hasAttribute("data-open-dialog")) {
      openDialog(button, event);
    }
  });

  /* ---------------------------------------------------------------- page load */
  /* ---------------------------------------------------------------- 获取验证码: 60 s countdown */
  function setUpCodeButton(button) {
    var left = parseInt(button.getAttribute("data-wait") || "0", 10);
    if (!(left > 0)) { return; }
    var label = button.textContent;
    function tick() {
      if (left <= 0) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.disabled = true;
      button.textContent = "重新获取(" + left + "s)";
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
    // The code was just sent: the next thing to type is the code.
    var input = button.form && button.form.querySelector("input[name=verification_code]");
    if (input && !document.querySelector("main [aria-invalid=true]")) { input.focus(); }
  }

  function onReady() {
    all("button[data-code-button]").forEach(setUpCodeButton);
    setUpShortcuts();
    // A dialog the server opened (after an error) becomes a real modal one.
    all("dialog[data-show-modal]").forEach(function (dialog) {
      if (dialog.open && typeof dialog.showModal === "function") {
        dialog.close();
        dialog.showModal();
      }
    });
    // Put the keyboard where the problem is.
    var invalid = document.querySelector("dialog[open] [aria-invalid=true]") || document.querySelector("main [aria-invalid=true]");
    if (invalid) { invalid.focus(); }

    // Login: the account field's label follows the chosen business (自然人 / 单位).
    all("[data-login-form]").forEach(function (form) {
      function sync() {
        var chosen = form.querySelector("input[name=kind]:checked");
        var label = form.querySelector("label[for=f-login]");
        var input = form.querySelector("#f-login");
        if (!chosen || !label || !input) { return; }
        var star = label.querySelector(".req");
        label.textContent = chosen.getAttribute("data-login-label");
        if (star) { label.insertBefore(star, label.firstChild); }
        input.placeholder = chosen.getAttribute("data-login-placeholder");
      }
      all("input[name=kind]", form).forEach(function (r) { r.addEventListener("change", sync); });
    });

    all("[data-unit-refund]").forEach(setUpUnitPanes);
    all("[data-report-form]").forEach(setUpReportRows);
    all("[data-reason-form]").forEach(setUpReason);
  }

  /* ---------------------------------------------------------------- unit: 选择区 / 退费区 */
  // The chosen persons are the hidden "chosen" inputs (also those the 退费区 filter hides);
  // 添加 / 撤销 move rows between the panes and keep those inputs and 缴费金额 in step.
  function setUpUnitPanes(form) {
    var left = form.querySelector("[data-pane=left] tbody");
    var right = form.querySelector("[data-pane=right] tbody");
    var chosenBox = form.querySelector("[data-chosen]");
    if (!left || !right || !chosenBox) { return; }

    function hiddenFor(id) {
      return all("input[name=chosen]", chosenBox).filter(function (i) { return i.value === id; })[0];
    }

    function renumber(body) {
      var rows = all("tr[data-line]", body);
      rows.forEach(function (tr, i) {
        var n = tr.querySelector("[data-seq]");
        if (n) { n.textContent = String(i + 1); }
      });
      var empty = body.querySelector("tr[data-empty]");
      if (empty) { empty.hidden = rows.length > 0; }
      var count = body.closest("[data-pane]").querySelector("[data-count]");
      if (count) { count.textContent = String(rows.length); }
    }

    function refresh() {
      var total = 0;
      all("input[name=chosen]", chosenBox).forEach(function (i) {
        total += parseInt(i.getAttribute("data-fen") || "0", 10);
      });
      all("[data-amount-shown]", form).forEach(function (out) { out.value = yuan(total); });
      renumber(left);
      renumber(right);
      all("[data-check-all]", form).forEach(function (c) { c.checked = false; });
    }

    function move(rows, toRight) {
      rows.forEach(function (tr) {
        var id = tr.getAttribute("data-line");
        var box = tr.querySelector("input[type=checkbox]");
        box.checked = false;
        box.name = toRight ? "unpick" : "pick";
        (toRight ? right : left).insertBefore(tr, (toRight ? right : left).querySelector("tr[data-empty]"));
        var hidden = hiddenFor(id);
        if (toRight && !hidden) {
          hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = "chosen";
          hidden.value = id;
          hidden.setAttribute("data-fen", tr.getAttribute("data-fen") || "0");
          chosenBox.appendChild(hidden);
        } else if (!toRight && hidden) {
          hidden.parentNode.removeChild(hidden);
        }
      });
      refresh();
    }

    function rowsOf(body, onlyChecked) {
      return all("tr[data-line]", body).filter(function (tr) {
        var box = tr.querySelector("input[type=checkbox]");
        return box && !box.disabled && (!onlyChecked || box.checked);
      });
    }

    form.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button[name=op]");
      if (!button) { return; }
      var op = button.value;
      var rows;
      if (op === "add" || op === "add_all") {
        event.preventDefault();
        rows = rowsOf(left, op === "add");
        if (!rows.length) { say(form, op === "add" ? "请在选择区勾选需要退费的人员" : "选择区没有可添加的人员"); return; }
        move(rows, true);
      } else if (op === "remove" || op === "remove_all") {
        event.preventDefault();
        rows = rowsOf(right, op === "remove");
        if (!rows.length) { say(form, op === "remove" ? "请在退费区勾选需要撤销的人员" : "退费区没有人员"); return; }
        move(rows, false);
      }
    });

    // Enter in a pane's filter runs that pane's 查询, not 保存.
    all("[data-filter] input", form).forEach(function (input) {
      input.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") { return; }
        event.preventDefault();
        var op = input.closest("[data-filter]").getAttribute("data-filter");
        var button = form.querySelector('button[name=op][value="' + op + '"]');
        if (button) { button.click(); }
      });
    });
    refresh();
  }

  /* ---------------------------------------------------------------- deposit report rows */
  function setUpReportRows(form) {
    var body = form.querySelector("[data-report-rows]");
    var template = form.querySelector("template[data-row-template]");
    if (!body || !template) { return; }

    function reindex() {
      all("tr[data-row]", body).forEach(function (tr, i) {
        all("[name]", tr).forEach(function (el) {
          el.name = el.name.replace(/^accounts\.\d+\./, "accounts." + i + ".");
        });
        all("[id]", tr).forEach(function (el) {
          el.id = el.id.replace(/^r\d+-/, "r" + i + "-");
        });
        all("label[for]", tr).forEach(function (el) {
          el.htmlFor = el.htmlFor.replace(/^r\d+-/, "r" + i + "-");
        });
        var seq = tr.querySelector("[data-row-seq]");
        if (seq) { seq.textContent = String(i + 1); }
        var pick = tr.querySelector("input[name=selected_rows]");
        if (pick) { pick.value = String(i); }
      });
      var count = form.querySelector("input[name=row_count]");
      if (count) { count.value = String(all("tr[data-row]", body).length); }
    }

    form.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("button[name=op]");
      if (!button) { return; }
      if (button.value === "add_row") {
        event.preventDefault();
        var n = all("tr[data-row]", body).length;
        if (n >= 20) { say(form, "银行账户信息最多20条"); return; }
        var html = template.innerHTML.replace(/__N__/g, String(n));
        body.insertAdjacentHTML("beforeend", html);
        reindex();
        var added = all("tr[data-row]", body).pop();
        var first = added && added.querySelector("select, input:not([type=hidden]):not([type=checkbox])");
        if (first) { first.focus(); }
      } else if (button.value === "delete_rows") {
        var picked = all("tr[data-row]", body).filter(function (tr) {
          var box = tr.querySelector("input[name=selected_rows]");
          return box && box.checked;
        });
        if (!picked.length) { event.preventDefault(); say(form, "请先勾选需要删除的行"); return; }
        // A saved account cannot vanish: the server turns it into 删除 instead.
        if (picked.some(function (tr) { return tr.hasAttribute("data-saved"); })) { return; }
        event.preventDefault();
        picked.forEach(function (tr) { tr.remove(); });
        reindex();
      }
    });
  }

  /* ---------------------------------------------------------------- 税务端 keyboard shortcuts
     On a case: J / K follow 下一条 / 上一条, U 返回审核队列 (links marked data-shortcut);
     A puts the cursor in 税务机关意见, where Ctrl+Enter presses 通过并下一条
     (the button marked data-shortcut-submit). Keys typed into a field are left alone. */
  function setUpShortcuts() {
    var links = {};
    all("a[data-shortcut]").forEach(function (a) { links[a.getAttribute("data-shortcut")] = a; });
    var submit = document.querySelector("[data-shortcut-submit]");
    if (!Object.keys(links).length && !submit) { return; }
    var opinion = submit && formOf(submit).querySelector("textarea[name=opinion]");
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
      if (typing) {
        if (target === opinion && submit && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          submit.click();
        }
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) { return; }
      var key = (event.key || "").toLowerCase();
      if (key === "a" && opinion) {
        event.preventDefault();
        opinion.focus();
      } else if (links[key]) {
        event.preventDefault();
        links[key].click();
      }
    });
  }

  /* ---------------------------------------------------------------- 退费理由 */
  function setUpReason(form) {
    var select = form.querySelector("select[name=reason_code]");
    var text = form.querySelector("[name=reason_text]");
    if (!select || !text) { return; }
    function sync() {
      text.placeholder = select.value === "other" ? "选择“其他”时请填写说明（必填）" : "补充说明（选填）";
    }
    select.addEventListener("change", sync);
    sync();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    onReady();
  }
})();
