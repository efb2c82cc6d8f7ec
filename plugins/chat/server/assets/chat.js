// chat.js: the WebSocket client of the chat room (PROTOCOL.md). No dependency, no inline script; text from
// guests only ever goes through textContent. Without JavaScript the page's iframes do the same work.
(function () {
  'use strict';
  var nojs = document.getElementById('nojs');
  var ui = document.getElementById('js');
  if (!nojs || !ui || !window.WebSocket || !window.JSON) return;
  nojs.parentNode.removeChild(nojs);  // closes the no-JavaScript stream
  ui.hidden = false;

  var log = document.getElementById('log');
  var state = document.getElementById('state');
  var textBox = document.getElementById('text');
  var nameBox = document.getElementById('name');
  var socket = null;
  var welcomed = false;
  var failures = 0;

  function add(className, pieces) {
    var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    var p = document.createElement('p');
    p.className = className;
    pieces.forEach(function (piece) {
      var node = document.createElement(piece[0]);
      if (piece[1]) node.className = piece[1];
      node.textContent = piece[2];
      p.appendChild(node);
    });
    log.appendChild(p);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function status(text) { add('status', [['span', '', text]]); }

  function show(event) {
    if (event.type === 'message') {
      add('message', [['bdi', 'from', event.from], ['span', '', ': '], ['bdi', 'text', event.text]]);
    } else if (event.type === 'status') {
      if (event.event === 'join') status(event.name + ' joined');
      else if (event.event === 'leave') status(event.name + ' left');
      else if (event.event === 'rename') {
        status(event.old_name + ' is now ' + event.name);
        if (event.old_name === nameBox.dataset.mine) nameBox.value = nameBox.dataset.mine = event.name;
      }
    }
  }

  function welcome(data) {
    nameBox.value = nameBox.dataset.mine = data.name;
    if (welcomed) {
      status('Reconnected. You are ' + data.name + '.');
      return;
    }
    welcomed = true;
    if (data.motd) add('motd', [['span', '', data.motd]]);
    status('You are ' + data.name + '. In the room: ' + data.guests.join(', ') + '.');
    data.history.forEach(show);
  }

  function handle(data) {
    if (data.type === 'welcome') welcome(data);
    else if (data.type === 'error') add('error', [['span', '', data.text]]);
    else show(data);
  }

  function send(object) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(object));
    return true;
  }

  function connect() {
    socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    socket.onopen = function () {
      failures = 0;
      state.textContent = '';
    };
    socket.onmessage = function (message) {
      var data;
      try {
        data = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      handle(data);
    };
    socket.onclose = function () {
      socket = null;
      failures += 1;
      state.textContent = 'Connection lost; trying again…';
      if (failures > 3) {
        var link = document.createElement('a');
        link.href = '/';
        link.textContent = 'Join again';
        state.appendChild(document.createTextNode(' '));
        state.appendChild(link);
      }
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, failures - 1)));
    };
  }

  document.getElementById('send').addEventListener('submit', function (event) {
    event.preventDefault();
    if (textBox.value !== '' && send({type: 'message', text: textBox.value})) textBox.value = '';
  });
  textBox.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      document.getElementById('send').requestSubmit();
    }
  });
  document.getElementById('rename').addEventListener('submit', function (event) {
    event.preventDefault();
    send({type: 'rename', name: nameBox.value});
  });
  // Tor drops idle circuits: a frame every 30 s keeps this one up (the server pings too).
  setInterval(function () { send({type: 'ping'}); }, 30000);
  connect();
})();
