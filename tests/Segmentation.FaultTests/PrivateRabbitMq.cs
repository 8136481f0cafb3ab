using System.Diagnostics;
using System.Globalization;

namespace Segmentation.FaultTests;

/// <summary>
/// A RabbitMQ node of this suite alone: its own node name, AMQP, distribution and epmd ports, database and log directories,
/// no plugins, none of the shared node's configuration; run as the rabbitmq user (whose Erlang cookie rabbitmqctl shares).
/// Restarting it is a real broker restart (the node halts, durable queues and persistent messages come back from disk).
/// </summary>
public sealed class PrivateRabbitMq : IAsyncDisposable
{
    private const string Bin = "/usr/lib/rabbitmq/bin";
    private readonly string _directory;
    private readonly string _nodeName;
    private readonly int _epmdPort;
    private readonly int _distributionPort;
    private Process? _server;

    private PrivateRabbitMq(string directory)
    {
        _directory = directory;
        _nodeName = $"segfault{Guid.NewGuid():N}"[..16] + "@localhost";
        Port = Commands.FreePort();
        _distributionPort = Commands.FreePort();
        _epmdPort = Commands.FreePort();
    }

    public int Port { get; }

    public Uri Url(string vhost) => new($"amqp://guest:guest@127.0.0.1:{Port}/{vhost}");

    public static async Task<PrivateRabbitMq> Start()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"segfault-rmq-{Guid.NewGuid():N}"[..25]);
        var rabbit = new PrivateRabbitMq(directory);
        Directory.CreateDirectory(Path.Combine(directory, "mnesia"));
        Directory.CreateDirectory(Path.Combine(directory, "log"));
        Directory.CreateDirectory(Path.Combine(directory, "conf.d"));
        await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].");
        await File.WriteAllTextAsync(Path.Combine(directory, "env.conf"), "");
        await File.WriteAllTextAsync(Path.Combine(directory, "conf.d", "10-private.conf"),
            $"listeners.tcp.default = 127.0.0.1:{rabbit.Port}\ndistribution.listener.interface = 127.0.0.1\n");
        await Commands.Run("chown", "-R", "rabbitmq:rabbitmq", directory);
        try
        {
            await rabbit.StartServer();
        }
        catch
        {
            await rabbit.DisposeAsync();
            throw;
        }
        return rabbit;
    }

    public async Task StartServer()
    {
        var log = Path.Combine(_directory, "server.log");
        var start = Commands.Start("/bin/sh", ["-c", $"exec runuser -u rabbitmq -- env {Environment()} {Bin}/rabbitmq-server >>'{log}' 2>&1 </dev/null"], redirect: false);
        _server = Process.Start(start)!;
        // rabbitmqctl fails at once until the node has registered with its epmd, then waits for the boot to end.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await Ctl("await_startup", "--timeout", "60");
                return;
            }
            catch (InvalidOperationException) when (!_server.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(90))
            {
                await Task.Delay(500);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException($"RabbitMQ node {_nodeName} did not start:\n{Commands.Tail(log)}", e);
            }
        }
    }

    /// <summary>Halts the node (every connection drops, nothing is accepted until <see cref="StartServer"/>).</summary>
    public async Task StopServer()
    {
        await Ctl("stop");
        if (_server is not null) await _server.WaitForExitAsync();
    }

    /// <summary>
    /// Kills the node's Erlang VM (<c>kill -9</c>, as a crash or an OOM kill): every connection drops at once. What the
    /// broker confirmed is on disk and comes back at the next <see cref="StartServer"/>. (A graceful <c>rabbitmqctl stop</c>
    /// keeps serving for many seconds under load, long enough for the load to end before the outage begins.)
    /// </summary>
    public async Task KillServer()
    {
        var pid = int.Parse((await File.ReadAllTextAsync(Path.Combine(_directory, "pid"))).Trim(), CultureInfo.InvariantCulture);
        using (var vm = Process.GetProcessById(pid))
        {
            vm.Kill();
            await vm.WaitForExitAsync();
        }
        if (_server is not null) await _server.WaitForExitAsync();
    }

    public async Task AddVhost(string vhost)
    {
        await Ctl("add_vhost", vhost);
        await Ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
    }

    /// <summary>Every queue of the vhost with its ready and unacknowledged message count (<c>rabbitmqctl list_queues</c>).</summary>
    public async Task<IReadOnlyDictionary<string, long>> QueueDepths(string vhost)
    {
        var output = await Ctl("list_queues", "-p", vhost, "name", "messages", "--no-table-headers");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('\t'))
            .ToDictionary(columns => columns[0], columns => long.Parse(columns[1].Trim()), StringComparer.Ordinal);
    }

    private Task<string> Ctl(params string[] arguments) =>
        Commands.Run("/bin/sh", "-c", $"exec runuser -u rabbitmq -- env {Environment()} {Bin}/rabbitmqctl -q -n {_nodeName} " +
            string.Join(' ', arguments.Select(a => "'" + a + "'")));

    private string Environment() => string.Join(' ',
        "HOME=/var/lib/rabbitmq",
        $"RABBITMQ_NODENAME={_nodeName}",
        $"RABBITMQ_DIST_PORT={_distributionPort}",
        $"ERL_EPMD_PORT={_epmdPort}",
        $"RABBITMQ_MNESIA_BASE={_directory}/mnesia",
        $"RABBITMQ_LOG_BASE={_directory}/log",
        $"RABBITMQ_ENABLED_PLUGINS_FILE={_directory}/enabled_plugins",
        // The shared node's configuration (its listeners, its management UI) must not apply: only this directory's.
        $"RABBITMQ_CONFIG_FILE={_directory}/none.conf",
        $"RABBITMQ_CONFIG_FILES={_directory}/conf.d",
        $"RABBITMQ_CONF_ENV_FILE={_directory}/env.conf",
        $"RABBITMQ_PID_FILE={_directory}/pid");

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_server is { HasExited: false })
            {
                try
                {
                    await StopServer();
                }
                catch (InvalidOperationException)
                {
                    // Not up enough to be told: the server's process tree goes as a whole.
                    _server.Kill(entireProcessTree: true);
                }
            }
            // The node started an epmd of its own on its private port; it outlives the node unless told to go.
            await Commands.Run("/bin/sh", "-c", $"exec runuser -u rabbitmq -- env ERL_EPMD_PORT={_epmdPort} epmd -kill");
        }
        finally
        {
            _server?.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
