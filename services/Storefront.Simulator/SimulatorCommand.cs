using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using MassTransit;
using Storefront.Simulator.Generation;
using SegmentationEvents.ServiceDefaults;
using Storefront.Simulator.Publishing;

namespace Storefront.Simulator;

/// <summary>The command line: options, validation and the run itself.</summary>
internal static class SimulatorCommand
{
    private static readonly TimeSpan BusStartTimeout = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions JsonLines = new(JsonSerializerDefaults.Web);

    private static readonly Option<string> RabbitMq = new("--rabbitmq")
    {
        Description = "Broker URL, amqp://user:password@host:port/vhost (default: $RABBITMQ_URL, else a local guest broker)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("RABBITMQ_URL") is { Length: > 0 } url ? url : RabbitMqAddress.DefaultUrl,
    };

    private static readonly Option<int> Customers = Positive(new Option<int>("--customers", "-c")
    {
        Description = "Number of synthetic customers",
        DefaultValueFactory = _ => 100,
    });

    private static readonly Option<double> Rate = new("--rate", "-r")
    {
        Description = "Events per second to publish; 0 = as fast as the broker confirms",
        DefaultValueFactory = _ => 100,
        Validators = { r => { if (r.GetValueOrDefault<double>() < 0) r.AddError("--rate must not be negative"); } },
    };

    private static readonly Option<double> Duration = new("--duration", "-d")
    {
        Description = "Seconds to run at --rate; the run publishes rate × duration events (ignored with --events)",
        DefaultValueFactory = _ => 60,
        Validators = { r => { if (r.GetValueOrDefault<double>() <= 0) r.AddError("--duration must be positive"); } },
    };

    private static readonly Option<int?> Events = new("--events", "-n")
    {
        Description = "Total number of events to publish (instead of rate × duration)",
        Validators = { r => { if (r.GetValueOrDefault<int?>() < 0) r.AddError("--events must not be negative"); } },
    };

    private static readonly Option<int> Seed = new("--seed", "-s")
    {
        Description = "Random seed; the same seed and options give the same customers, events and event ids",
        DefaultValueFactory = _ => 1,
    };

    private static readonly Option<double> Days = new("--days")
    {
        Description = "Simulated days that the events' occurrence times span",
        DefaultValueFactory = _ => 30,
        Validators = { r => { if (r.GetValueOrDefault<double>() <= 0) r.AddError("--days must be positive"); } },
    };

    private static readonly Option<DateTimeOffset?> Start = new("--start")
    {
        Description = "Simulated start instant, ISO 8601 (default: now minus --days, so the last events are about now)",
    };

    private static readonly Option<bool> DryRun = new("--dry-run")
    {
        Description = "Write the events as JSON lines to stdout instead of publishing (no broker needed)",
    };

    public static RootCommand Build(TimeProvider clock)
    {
        var root = new RootCommand("Storefront simulator: publishes synthetic customer-lifecycle events to RabbitMQ.")
        {
            RabbitMq, Customers, Rate, Duration, Events, Seed, Days, Start, DryRun,
        };
        root.SetAction((parse, cancellationToken) => RunAsync(parse, clock, cancellationToken));
        return root;
    }

    private static Option<int> Positive(Option<int> option)
    {
        option.Validators.Add(r => { if (r.GetValueOrDefault<int>() <= 0) r.AddError($"{option.Name} must be positive"); });
        return option;
    }

    private static async Task<int> RunAsync(ParseResult parse, TimeProvider clock, CancellationToken cancellationToken)
    {
        var rate = parse.GetValue(Rate);
        if (rate <= 0 && parse.GetValue(Events) is null)
        {
            Console.Error.WriteLine("error: with --rate 0 (unlimited), give the number of events with --events");
            return 2;
        }

        var days = TimeSpan.FromDays(parse.GetValue(Days));
        var total = parse.GetValue(Events) ?? (int)Math.Min(int.MaxValue, Math.Round(rate * parse.GetValue(Duration)));
        var settings = new SimulationSettings(
            parse.GetValue(Customers), total, parse.GetValue(Seed), parse.GetValue(Start) ?? clock.GetUtcNow() - days, days);
        var events = new SyntheticCustomerGenerator(settings).Generate();
        var dryRun = parse.GetValue(DryRun);
        var status = dryRun ? Console.Error : Console.Out;

        status.WriteLine(
            $"simulating {settings.TotalEvents:N0} events of {settings.Customers:N0} customers, seed {settings.Seed}, " +
            $"occurring {settings.Start:u} .. {settings.End:u}, at {(rate > 0 ? $"{rate:0.#}/s" : "full speed")}");

        if (dryRun)
        {
            foreach (var e in events)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new { type = e.GetType().Name, message = (object)e }, JsonLines));
            }

            return 0;
        }

        RabbitMqAddress address;
        try
        {
            address = RabbitMqAddress.Parse(parse.GetValue(RabbitMq)!);
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine($"error: --rabbitmq: {ex.Message}");
            return 2;
        }

        using var tracing = Tracing.StartIfConfigured();
        var bus = RabbitMqBus.Create(address);
        try
        {
            using var startTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            startTimeout.CancelAfter(BusStartTimeout);
            await bus.StartAsync(startTimeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or RabbitMqConnectionException)
        {
            Console.Error.WriteLine(cancellationToken.IsCancellationRequested
                ? "cancelled before the broker answered"
                : $"error: cannot connect to RabbitMQ at {address} within {BusStartTimeout.TotalSeconds:0}s: {ex.Message}");
            await bus.StopAsync(CancellationToken.None);
            return cancellationToken.IsCancellationRequested ? 0 : 1;
        }

        status.WriteLine($"connected to {address}");
        PublishSummary summary;
        try
        {
            summary = await new SimulatorPublisher(bus, clock, status).RunAsync(events, rate, cancellationToken);
        }
        finally
        {
            using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await bus.StopAsync(stopTimeout.Token);
        }

        status.WriteLine(
            $"{(summary.Cancelled ? "stopped" : "done")}: published {summary.Published:N0} events in {summary.Elapsed.TotalSeconds:F1}s ({summary.Rate:F1}/s)");
        return 0;
    }
}
