using System.CommandLine;
using MassTransit;
using Segmentation.Cli.History;
using Segmentation.Rules.Evaluation;
using SegmentationEvents.ServiceDefaults;
using CustomerEventMessage = SegmentationEvents.Contracts.CustomerEvent;

namespace Segmentation.Cli.Commands;

/// <summary>
/// Publishes a JSON-lines history through RabbitMQ as generic <c>CustomerEvent</c> messages, in occurrence order.
/// The service decides each event when it arrives (at the later of its clock and the occurrence time), so a history
/// from the past gives today's memberships, not those of <c>segctl evaluate</c> at the history's last instant.
/// </summary>
internal static class PublishCommand
{
    public static Command Create()
    {
        var events = new Option<FileInfo>("--events") { Description = "JSON-lines event history", Required = true };
        var rabbitMq = new Option<string>("--rabbitmq")
        {
            Description = "broker URL amqp://user:password@host:port/vhost (default: $RABBITMQ_URL)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("RABBITMQ_URL") ?? RabbitMqAddress.DefaultUrl,
        };
        var command = new Command("publish", "publish a JSON-lines history to the segmentation service through RabbitMQ") { events, rabbitMq };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var file = parse.GetRequiredValue(events);
            if (!SegctlCommand.TryReadFile(file, error, out var text)) return 1;

            var history = JsonLinesHistory.Read(text, file.ToString());
            foreach (var problem in history.Errors) error.WriteLine(problem);
            if (history.Errors.Count > 0) return 1;

            RabbitMqAddress address;
            try
            {
                address = RabbitMqAddress.Parse(parse.GetRequiredValue(rabbitMq));
            }
            catch (FormatException exception)
            {
                error.WriteLine($"segctl: {exception.Message}");
                return 2;
            }

            var bus = Bus.Factory.CreateUsingRabbitMq(rabbit => rabbit.Host(address, "segctl"));
            await bus.StartAsync(cancellationToken);
            try
            {
                var ordered = history.Lines.OrderBy(line => line.Event, Comparer<CustomerEvent>.Create(CustomerEvent.CompareByOccurrence));
                var published = 0;
                foreach (var line in ordered)
                {
                    await bus.Publish(ToMessage(line), cancellationToken);
                    published++;
                }

                output.WriteLine($"published {published} events of {history.Lines.Select(l => l.CustomerId).Distinct().Count()} customers to {address}");
                return 0;
            }
            finally
            {
                await bus.StopAsync(CancellationToken.None);
            }
        });
        return command;
    }

    /// <summary>
    /// History ids that are not GUIDs become the stable GUIDs the raw endpoint gives them too, so republishing stays
    /// idempotent; property values go as the history has them (strings as strings, numbers as numbers, ...).
    /// </summary>
    private static CustomerEventMessage ToMessage(HistoryLine line) => new(
        EventIds.ToGuid(line.Event.EventId),
        line.CustomerId,
        line.Event.Type,
        line.Event.OccurredAt,
        line.Event.Properties.ToDictionary(p => p.Key, p => PlainValue(p.Value), StringComparer.Ordinal));

    private static object? PlainValue(Value value) => value.Kind switch
    {
        ValueKind.Number => value.AsNumber,
        ValueKind.Bool => value.AsBool,
        ValueKind.Null => null,
        ValueKind.String => value.AsString,
        _ => value.ToString(),
    };
}
